"""Start the rbfviz dashboard.

python launch.py                          # http://127.0.0.1:5006, opens a browser
python launch.py --port 5010 --no-browser --workspace ~/rbfviz-work
python launch.py --host 0.0.0.0           # listen on all interfaces (only on trusted networks)
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

MAX_MESSAGE_BYTES = 100 * 2**20  # uploads up to 50 MB arrive base64-encoded in one websocket message


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5006, help="port (default: 5006)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument(
        "--workspace",
        default=None,
        help="folder for networks made in the app (default: $RBFVIZ_WORKSPACE or ~/.local/share/rbfviz/workspace)",
    )
    parser.add_argument("--models", default=None, help="folder of bundled read-only networks (default: assets/models)")
    args = parser.parse_args(argv)
    if not _port_free(args.host, args.port):
        print(f"launch.py: port {args.port} on {args.host} is in use; choose another with --port", file=sys.stderr)
        return 2

    import panel as pn

    from rbfviz.app.main import EXTENSIONS, create_app

    pn.extension(*EXTENSIONS)
    origin = [f"{args.host}:{args.port}"] + ([f"localhost:{args.port}"] if args.host == "127.0.0.1" else [])
    if args.host in ("0.0.0.0", "::"):
        origin = ["*"]
    print(f"rbfviz dashboard on http://{args.host}:{args.port}  (Ctrl+C to stop)")
    pn.serve(
        lambda: create_app(workspace=args.workspace, bundled_dir=args.models),
        address=args.host,
        port=args.port,
        show=not args.no_browser,
        websocket_origin=origin,
        websocket_max_message_size=MAX_MESSAGE_BYTES,
        title="rbfviz",
        threaded=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
