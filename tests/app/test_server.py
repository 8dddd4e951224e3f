"""rbfviz.app.server: DNS-rebinding Host check, websocket origin, basic auth, restart after a kill.

The server runs in a subprocess (a one-line page instead of the dashboard, so it starts in a few
seconds) and is spoken to with raw HTTP over a socket, as an attacker's browser would.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

import rbfviz
from rbfviz.app.server import ServerConfig, host_allowed

REPO = Path(rbfviz.__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
SERVER = r"""
import sys
import panel as pn
from rbfviz.app.server import ServerConfig, serve
auth = sys.argv[2] if len(sys.argv) > 2 else None
serve(lambda: pn.pane.Markdown("rbfviz test page"), ServerConfig(port=int(sys.argv[1]), basic_auth=auth))
"""
WS_HEADERS = [
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGVzdHRlc3R0ZXN0dGVzdA==",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port, *args):
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), *args],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # until the port answers (or the server died)
        assert proc.poll() is None, f"the server exited with {proc.returncode}: {proc.stdout.read()[-2000:]}"
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail("the server did not start listening within 90 s")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def request(port, lines, body=b""):
    """Send one raw HTTP/1.1 request; return (status code, response headers as text)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return int(head.split(" ", 2)[1]), head


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = start_server(port)
    yield port, proc
    stop(proc)


# ----------------------------------------------------------------- the Host allow-list
def test_allowed_hosts_rules():
    local = ServerConfig(port=5006)
    assert (
        host_allowed("127.0.0.1:5006", local) and host_allowed("LOCALHOST", local) and host_allowed("[::1]:5006", local)
    )
    assert not host_allowed("attacker.example:5006", local)
    assert not host_allowed("192.168.1.5:5006", local)
    assert not host_allowed("127.0.0.1.attacker.example", local) and not host_allowed("", ServerConfig(host="lab"))
    lab = ServerConfig(host="0.0.0.0", allow_hosts=("rbfviz.lab", "192.168.1.5"))
    assert host_allowed("rbfviz.lab:5006", lab) and host_allowed("192.168.1.5:5006", lab)
    assert host_allowed(f"{socket.gethostname()}:5006", lab)  # listening everywhere: the machine's own name
    assert not host_allowed("0.0.0.0.attacker.example", lab) and not host_allowed("other.lab", lab)
    assert not host_allowed("0.0.0.0", lab) and not host_allowed("10.255.255.254", lab)
    assert "rbfviz.lab:5006" in lab.websocket_origins(5006)  # the websocket accepts what the Host check does
    assert ServerConfig(host="mybox").allowed_hosts == {"127.0.0.1", "localhost", "::1", "mybox"}
    assert ServerConfig(port=7).websocket_origins(7) == ["127.0.0.1:7", "localhost:7"]
    with pytest.raises(ValueError, match="`port` must be an int in \\[0, 65535\\]; got 70000"):
        ServerConfig(port=70000)


def test_foreign_host_is_refused(server):
    port, _ = server
    status, _ = request(port, ["GET / HTTP/1.1", "Host: attacker.example"])
    assert status == 403
    status, _ = request(port, ["GET /static/extensions/panel/panel.min.js HTTP/1.1", f"Host: attacker.example:{port}"])
    assert status == 403
    # the rebinding page opens the websocket from its own origin, which equals its Host
    ws = ["GET /ws HTTP/1.1", f"Host: attacker.example:{port}", f"Origin: http://attacker.example:{port}", *WS_HEADERS]
    status, _ = request(port, ws)
    assert status == 403


def test_local_host_is_served(server):
    port, _ = server
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        status, _ = request(port, ["GET / HTTP/1.1", f"Host: {host}"])
        assert status == 200
    ws = ["GET /ws HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Origin: http://127.0.0.1:{port}", *WS_HEADERS]
    assert request(port, ws)[0] == 101  # upgraded (Bokeh then closes it: no session token)
    other_origin = ["GET /ws HTTP/1.1", f"Host: 127.0.0.1:{port}", "Origin: http://attacker.example", *WS_HEADERS]
    assert request(port, other_origin)[0] == 403


# ----------------------------------------------------------------- restart after a kill, then a login
def test_restart_after_kill_and_basic_auth(server):
    """SIGKILL the server while a client holds a connection, restart at once on the same port
    (with a login this time): it must come up, not be refused until TIME_WAIT / FIN_WAIT expire."""
    port, proc = server
    client = socket.create_connection(("127.0.0.1", port), timeout=20)
    client.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert client.recv(12).startswith(b"HTTP/1.1 200")
    stop(proc)  # the kernel closes the server's end; the client keeps its end open, as a browser tab does
    with socket.socket() as probe:  # so the port is held (FIN-WAIT) and a bind without SO_REUSEADDR fails
        with pytest.raises(OSError, match="in use"):
            probe.bind(("127.0.0.1", port))
    restarted = start_server(port, "s3cret-pass")
    client.close()
    try:
        status, head = request(port, ["GET / HTTP/1.1", f"Host: 127.0.0.1:{port}"])
        assert status == 302 and "/login" in head  # no credentials: sent to the login page
        ws = ["GET /ws HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Origin: http://127.0.0.1:{port}", *WS_HEADERS]
        assert request(port, ws)[0] in (401, 403)
        cookies = {}
        for password, expected in (("wrong", "error="), ("s3cret-pass", "Location: /")):
            body = urllib.parse.urlencode({"username": "me", "password": password}).encode()
            status, head = request(
                port,
                [
                    "POST /login HTTP/1.1",
                    f"Host: 127.0.0.1:{port}",
                    "Content-Type: application/x-www-form-urlencoded",
                    f"Content-Length: {len(body)}",
                ],
                body,
            )
            assert status == 302 and expected in head, head
            for line in head.split("\r\n"):
                if line.lower().startswith("set-cookie:"):
                    name, value = line.split(":", 1)[1].strip().split(";", 1)[0].split("=", 1)
                    cookies[name] = value
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items() if k in ("user", "id_token"))
        assert request(port, ["GET / HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Cookie: {cookie}"])[0] == 200
    finally:
        stop(restarted)


def test_app_subcommand_is_registered():
    from rbfviz.cli import build_parser

    args = build_parser().parse_args(["app", "--port", "5010", "--no-browser", "--allow-host", "lab.example"])
    assert args.command == "app" and args.port == 5010 and args.allow_host == ["lab.example"]
    assert args.func.__name__ == "cmd_app"
