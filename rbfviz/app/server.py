"""Serving the dashboard: one Panel (Bokeh/Tornado) server with the protections a local web app needs.

Used by ``rbfviz app`` and ``python launch.py``.  What :func:`build_server` sets up:

* **Host check (DNS rebinding).**  A page on ``attacker.example`` can make its own name resolve to
  127.0.0.1 and then talk to this server as its "own origin".  The browser still sends
  ``Host: attacker.example``, so every request (pages, scripts, the websocket) whose Host is not an
  allowed name is refused with 403: ``127.0.0.1``, ``localhost``, ``::1``, the ``--host`` given and
  the ``--allow-host`` names.  When listening on every interface (``--host 0.0.0.0``) the
  machine's own name and addresses are added, as far as it can tell them (its host name, what
  that resolves to, the address of its default route); give any other with ``--allow-host``.
* **Websocket origin**: only pages served under those names at this port may open the websocket.
* **Message size**: one websocket message holds at most ``max_message_bytes`` (uploads arrive
  base64-encoded in one message).
* **Authentication, optional**: Panel's login page with a password or a JSON file of
  ``{"user": "password"}`` (``--basic-auth``), or Panel's OAuth providers (``--oauth-provider``,
  with the key and secret in ``PANEL_OAUTH_KEY`` / ``PANEL_OAUTH_SECRET``).  Without either,
  anyone who can reach the port can use the app: the default is to listen on 127.0.0.1 only.
* **Restart after a kill**: the listening socket is bound with ``SO_REUSEADDR`` (Tornado's
  ``bind_sockets``), and there is no separate probe without it, so connections left in TIME_WAIT
  by a killed server do not block a restart on the same port.

Examples
--------
>>> cfg = ServerConfig(port=5010, allow_hosts=("rbfviz.lab",))
>>> sorted(cfg.allowed_hosts)
['127.0.0.1', '::1', 'localhost', 'rbfviz.lab']
>>> host_allowed("127.0.0.1:5010", cfg), host_allowed("attacker.example:5010", cfg)
(True, False)
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import secrets
from dataclasses import dataclass, field

LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::")
MAX_MESSAGE_BYTES = 100 * 2**20  # uploads up to 50 MB arrive base64-encoded in one websocket message

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- settings
def _host_name(host: str) -> str:
    """``Host`` header or address without port and IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:5006
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        return host.split(":", 1)[0]
    return host


def _machine_names() -> frozenset:
    """This machine's host name and addresses, best effort, without DNS queries to other machines."""
    import socket

    names = {socket.gethostname().lower()}
    try:
        names.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None))
    except OSError:
        pass
    try:  # the source address of the default route: a UDP "connect" sends no packet
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1, never routed
            names.add(probe.getsockname()[0])
    except OSError:
        pass
    return frozenset(_host_name(n) for n in names if n and n not in WILDCARD_HOSTS)


@dataclass(frozen=True)
class ServerConfig:
    """Settings of the dashboard server (one frozen object; see the module docstring).

    Parameters
    ----------
    host : str, default="127.0.0.1"
        Address to listen on.  ``0.0.0.0`` or ``::`` listens on every interface.
    port : int, default=5006
        Port; 0 picks a free one.
    allow_hosts : tuple of str, default=()
        Further names (or addresses) that clients may use in the ``Host`` header, e.g. the
        machine's DNS name when serving beyond localhost.
    show : bool, default=False
        Open a browser tab once the server runs.
    basic_auth : str or None, default=None
        A password, or the path of a JSON file ``{"user": "password", ...}``: Panel's login page.
    cookie_secret : str or None, default=None
        Signs the login cookie; default ``$PANEL_COOKIE_SECRET`` or a random secret per process.
    oauth_provider : str or None, default=None
        A Panel OAuth provider (``github``, ``google``, ``azure``, ``generic``...); the key and
        secret come from ``$PANEL_OAUTH_KEY`` and ``$PANEL_OAUTH_SECRET``.
    oauth_redirect_uri : str or None, default=None
    max_message_bytes : int, default=MAX_MESSAGE_BYTES (100 MiB)
        Largest websocket message.
    title : str, default="rbfviz"
    """

    host: str = "127.0.0.1"
    port: int = 5006
    allow_hosts: tuple = ()
    show: bool = False
    basic_auth: str | None = None
    cookie_secret: str | None = field(default=None, repr=False)
    oauth_provider: str | None = None
    oauth_redirect_uri: str | None = None
    max_message_bytes: int = MAX_MESSAGE_BYTES
    title: str = "rbfviz"
    _names: frozenset = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.host, str) or not self.host.strip():
            raise ValueError(f"`host` must be a non-empty address; got {self.host!r}.")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"`port` must be an int in [0, 65535]; got {self.port!r}.")
        hosts = (self.allow_hosts,) if isinstance(self.allow_hosts, str) else tuple(self.allow_hosts)
        if not all(isinstance(h, str) and h.strip() for h in hosts):
            raise ValueError(f"`allow_hosts` must be names or addresses; got {self.allow_hosts!r}.")
        object.__setattr__(self, "allow_hosts", hosts)
        if isinstance(self.max_message_bytes, bool) or not isinstance(self.max_message_bytes, int):
            raise ValueError(f"`max_message_bytes` must be an int >= 1; got {self.max_message_bytes!r}.")
        if self.max_message_bytes < 1:
            raise ValueError(f"`max_message_bytes` must be an int >= 1; got {self.max_message_bytes!r}.")
        if self.basic_auth is not None and self.oauth_provider is not None:
            raise ValueError("give `basic_auth` or `oauth_provider`, not both.")
        names = set(LOCAL_NAMES) | {_host_name(h) for h in hosts}
        names |= _machine_names() if self.listens_everywhere else {_host_name(self.host)}
        object.__setattr__(self, "_names", frozenset(names))

    @property
    def listens_everywhere(self) -> bool:
        return _host_name(self.host) in WILDCARD_HOSTS

    @property
    def allowed_hosts(self) -> frozenset:
        """Names accepted in the ``Host`` header (no port, lower case)."""
        return self._names

    def websocket_origins(self, port: int) -> list:
        """``host:port`` entries of the pages that may open the websocket (Bokeh's allow-list takes no IPv6)."""
        return sorted(f"{h}:{port}" for h in self.allowed_hosts if ":" not in h)


def host_allowed(host_header: str, config: ServerConfig) -> bool:
    """Whether a request's ``Host`` header names this server (see the module docstring).

    Examples
    --------
    >>> cfg = ServerConfig(host="0.0.0.0", allow_hosts=("192.168.1.20",))
    >>> host_allowed("192.168.1.20:5006", cfg), host_allowed("[::1]:5006", cfg), host_allowed("evil.test", cfg)
    (True, True, False)
    """
    return _host_name(host_header or "") in config.allowed_hosts


# --------------------------------------------------------------------------- the server
def _refuse_foreign_hosts(tornado_app, config: ServerConfig) -> None:
    """Put a rule in front of every route of ``tornado_app`` that answers 403 to a foreign Host."""
    from tornado.routing import Matcher, Rule
    from tornado.web import RequestHandler

    class ForeignHost(Matcher):
        def match(self, request):
            return None if host_allowed(request.host, config) else {}

    class RefuseHost(RequestHandler):
        def prepare(self):
            log.warning("refused a request for Host %r (allowed: %s)", self.request.host[:100], config.allowed_hosts)
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("403: this server does not answer to that Host name (DNS rebinding protection).\n")

    tornado_app.default_router.rules.insert(0, Rule(ForeignHost(), RefuseHost))


def build_server(app, config: ServerConfig | None = None):
    """The Bokeh server of ``app`` with the protections of the module docstring, bound but not started.

    Parameters
    ----------
    app : callable or Panel object
        What every session shows (a function is called once per session).
    config : ServerConfig, optional

    Returns
    -------
    panel.io.server.Server
        Call ``.start()`` and then ``.io_loop.start()``; ``.port`` is the bound port.

    Raises
    ------
    OSError
        The port is in use, naming the port and address.
    """
    import panel as pn

    config = config or ServerConfig()
    kwargs = {}
    if config.basic_auth is not None or config.oauth_provider is not None:
        secret = config.cookie_secret or os.environ.get("PANEL_COOKIE_SECRET") or secrets.token_urlsafe(32)
        kwargs.update(basic_auth=config.basic_auth, cookie_secret=secret)
        if config.oauth_provider is not None:
            kwargs.update(oauth_provider=config.oauth_provider, oauth_redirect_uri=config.oauth_redirect_uri)
    port = config.port
    if port == 0:  # the origins need the port before binding: take a free one now
        import socket

        with socket.socket() as probe:
            probe.bind((config.host, 0))
            port = probe.getsockname()[1]
    try:
        server = pn.serve(
            app,
            port=port,
            address=config.host,
            websocket_origin=config.websocket_origins(port),
            websocket_max_message_size=config.max_message_bytes,
            title=config.title,
            show=False,
            start=False,
            threaded=False,
            verbose=False,
            **kwargs,
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OSError(
                exc.errno, f"port {port} on {config.host} is in use; choose another with --port ({exc.strerror})"
            ) from exc
        raise
    _refuse_foreign_hosts(server._tornado, config)  # Bokeh exposes its Tornado application only as `_tornado`
    return server


class BackgroundServer:
    """A :func:`build_server` running on its own thread and event loop (see :func:`serve_in_background`)."""

    def __init__(self, server, thread, host: str):
        self.server, self.thread = server, thread
        shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
        self.url = f"http://{f'[{shown}]' if ':' in shown else shown}:{server.port}"

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server and its loop, and wait for the thread (idempotent)."""
        if self.thread.is_alive():
            loop = self.server.io_loop

            def stop_in_loop():
                try:
                    self.server.stop()
                finally:
                    loop.stop()

            loop.add_callback(stop_in_loop)
            self.thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_in_background(app, config: ServerConfig | None = None, *, timeout: float = 60.0) -> BackgroundServer:
    """Serve ``app`` with :func:`build_server` on a daemon thread; return once it listens.

    For browser tests and benchmarks: they drive the same server, with the same protections, as
    ``rbfviz app``.  ``config`` defaults to 127.0.0.1 on a free port.

    Examples
    --------
    >>> import urllib.request, panel as pn
    >>> with serve_in_background(lambda: pn.pane.Markdown("hi")) as server:
    ...     urllib.request.urlopen(server.url, timeout=30).status
    200
    """
    import asyncio
    import queue
    import threading

    config = config or ServerConfig(port=0)
    started: queue.Queue = queue.Queue()

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            server = build_server(app, config)
            server.start()
        except BaseException as exc:  # handed to the caller's thread
            started.put(exc)
            loop.close()
            return
        started.put(server)
        try:
            server.io_loop.start()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="rbfviz-server", daemon=True)
    thread.start()
    got = started.get(timeout=timeout)
    if isinstance(got, BaseException):
        raise got
    return BackgroundServer(got, thread, config.host)


def serve(app=None, config: ServerConfig | None = None) -> None:
    """Build the server (:func:`build_server`), print its address and run until Ctrl-C.

    ``app`` defaults to the dashboard (:func:`rbfviz.app.main.create_app`).
    """
    config = config or ServerConfig()
    if app is None:
        app = dashboard()
    server = build_server(app, config)
    shown = "127.0.0.1" if config.listens_everywhere else config.host
    shown = f"[{shown}]" if ":" in shown else shown
    auth = "login required" if (config.basic_auth or config.oauth_provider) else "no authentication"
    print(f"rbfviz dashboard on http://{shown}:{server.port}  ({auth}; Ctrl+C to stop)", flush=True)
    if config.listens_everywhere:
        print(
            "listening on every interface: anyone who can reach this port can use the app"
            + ("" if config.basic_auth or config.oauth_provider else " (consider --basic-auth)")
            + f"; Host names accepted: {', '.join(sorted(config.allowed_hosts))} (more with --allow-host)",
            flush=True,
        )
    server.start()
    if config.show:
        server.io_loop.add_callback(server.show, "/login" if config.basic_auth or config.oauth_provider else "/")
    server.io_loop.start()


def dashboard(workspace=None, models=None):
    """The per-session factory of the rbfviz dashboard (loads Panel's extensions once)."""
    import panel as pn

    from rbfviz.app.main import EXTENSIONS, create_app

    pn.extension(*EXTENSIONS)
    return lambda: create_app(workspace=workspace, bundled_dir=models)


# --------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The server options shared by ``rbfviz app`` and ``launch.py``."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)"
    )
    parser.add_argument("--port", type=int, default=5006, help="port (default: 5006)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument(
        "--workspace",
        default=None,
        help="folder for networks made in the app (default: $RBFVIZ_WORKSPACE or ~/.local/share/rbfviz/workspace)",
    )
    parser.add_argument("--models", default=None, help="folder of bundled read-only networks (default: the package's)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name clients may use (repeatable); 127.0.0.1, localhost and --host are always allowed",
    )
    parser.add_argument(
        "--basic-auth",
        default=None,
        metavar="PASSWORD_OR_FILE",
        help='require a login: a JSON file of {"user": "password"} (preferred: a password given here '
        "shows in the process list) or a password for any user name",
    )
    parser.add_argument(
        "--oauth-provider",
        default=None,
        help="require an OAuth login through Panel (github, google, azure, generic, ...); "
        "key and secret from $PANEL_OAUTH_KEY and $PANEL_OAUTH_SECRET",
    )
    parser.add_argument("--oauth-redirect-uri", default=None, help="OAuth redirect URI, if not the server's own")
    parser.add_argument(
        "--max-message-mb",
        type=float,
        default=MAX_MESSAGE_BYTES / 2**20,
        help=f"largest websocket message in MB (default: {MAX_MESSAGE_BYTES // 2**20})",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        host=args.host,
        port=args.port,
        allow_hosts=tuple(args.allow_host),
        show=not args.no_browser,
        basic_auth=args.basic_auth,
        oauth_provider=args.oauth_provider,
        oauth_redirect_uri=args.oauth_redirect_uri,
        max_message_bytes=int(args.max_message_mb * 2**20),
    )


def run_from_args(args: argparse.Namespace) -> None:
    """Serve the dashboard with the options of :func:`add_arguments`."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    config = config_from_args(args)
    serve(dashboard(args.workspace, args.models), config)
