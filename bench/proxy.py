"""A sticky reverse proxy (nginx) in front of several app processes, as a deployment has.

A Streamlit session lives in one process, and so do the files its page fetches
(images, downloads, uploads): a visitor must reach the same process every time.
`NGINX_CONFIG` gives a browser's first request a route cookie (`studio_route`, nginx's
random request id) and sends every request that carries it to one process (`hash ...
consistent`), the websocket included. Not the client's address: a class behind one
school router has one address, and would all land on one process. docs/deploying.md
shows it for a real host; bench.serverload --proxy runs it, each simulated visitor
fetching the page first for its cookie, as a browser does.

Only 127.0.0.1 listens; nginx runs in a process group of its own, ended on exit.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bench.appserver import free_port

ROUTE_COOKIE = "studio_route"

NGINX_CONFIG = """\
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    client_max_body_size 200m;  # uploads: the app checks its own limits
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    # Sticky: a visitor's route is its cookie's, or a new random one on a first visit.
    map $cookie_studio_route $studio_route {{ "" $request_id; default $cookie_studio_route; }}
    map $cookie_studio_route $studio_new_route {{
        "" "studio_route=$request_id; Path=/; HttpOnly; SameSite=Lax";
        default "";
    }}
    upstream studio {{
        hash $studio_route consistent;  # one route, one app process
{servers}
    }}
    server {{
        listen {listen};
        location / {{
            add_header Set-Cookie $studio_new_route always;  # none once it has one
            proxy_pass http://studio;
            proxy_http_version 1.1;  # the websocket upgrade
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1d;  # a session's websocket stays open while the tab does
            proxy_buffering off;  # answers go out as they come
        }}
    }}
}}
"""


def nginx_path() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def config(upstreams: list[str], listen: str, folder: Path) -> str:
    """The nginx configuration for app processes at `upstreams` (http://host:port)."""
    servers = "\n".join(f"        server {u.split('://', 1)[-1]};" for u in upstreams)
    return NGINX_CONFIG.format(folder=folder, servers=servers, listen=listen)


@contextmanager
def sticky_proxy(upstreams: list[str], folder: Path, timeout: float = 20.0) -> Iterator[tuple[str, int]]:
    """nginx on a free 127.0.0.1 port in front of `upstreams`: yields (its URL, its pid)."""
    binary = nginx_path()
    if binary is None:
        raise RuntimeError("no nginx on this machine (Debian: apt-get install nginx)")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o777)  # its workers may run as another user and buffer files here
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(config(upstreams, f"127.0.0.1:{port}", folder))
    proc = subprocess.Popen([binary, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=open(folder / "nginx-stderr.log", "wb"))
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {(folder / 'nginx-stderr.log').read_text()}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def route_cookie(url: str, timeout: float = 30.0) -> str:
    """What a browser's first visit gets from the proxy: its `Cookie` header value."""
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        cookies = [c.split(";", 1)[0] for c in reply.headers.get_all("Set-Cookie") or []]
    route = [c for c in cookies if c.startswith(ROUTE_COOKIE + "=")]
    if not route:
        raise RuntimeError(f"no {ROUTE_COOKIE} cookie from {url}")
    return route[0]
