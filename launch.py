"""Start the rbfviz dashboard (the same as ``rbfviz app`` / ``python -m rbfviz app``).

python launch.py                          # http://127.0.0.1:5006, opens a browser
python launch.py --port 5010 --no-browser --workspace ~/rbfviz-work
python launch.py --host 0.0.0.0 --allow-host mybox.lab --basic-auth users.json   # beyond localhost: log in

Options and protections: :mod:`rbfviz.app.server` and the README's Security section.
"""

from __future__ import annotations

import argparse
import sys

from rbfviz.app.server import add_arguments, run_from_args


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args = add_arguments(parser).parse_args(argv)
    try:
        run_from_args(args)
    except (ValueError, OSError) as exc:
        print(f"launch.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
