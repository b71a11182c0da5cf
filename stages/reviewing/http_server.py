"""The review tool's web server: the page, its script and style, and a small JSON API.

Safe by default: every request must name this server in its Host header (a page on another
site cannot reach it through a DNS name pointed at 127.0.0.1); a write must also come from
this server's own page (Origin) and carry the token that page was served with. Responses
forbid scripts and styles from anywhere but this server, and inline scripts altogether, so
record text shown by mistake as markup could still run nothing.
"""

import ipaddress
import logging
import secrets
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

from stages.common.user_error import UserError
from stages.reviewing.annotation_store import StaleAnnotation
from stages.reviewing.review_api import ListQuery, ReviewApp

log = logging.getLogger("logtune")

STATIC = files("stages.reviewing") / "static"
ASSETS = {
    "/review.js": ("review.js", "text/javascript; charset=utf-8"),
    "/review.css": ("review.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_BODY = 1 << 20
STALE = (
    "Not saved: this record's annotation was changed elsewhere (another tab or an editor) "
    "after this page loaded it. Reload the record to see that edit, then make yours again."
)


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, app: ReviewApp) -> None:
        super().__init__((host, port), ReviewHandler)
        self.app = app
        self.token = secrets.token_urlsafe(24)
        port = self.server_address[1]
        names = {host, "localhost", "127.0.0.1", "[::1]"} if loopback(host) else {host}
        self.hosts = {f"{name}:{port}" for name in names}
        self.origins = {f"http://{name}" for name in self.hosts}
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.url = f"http://{shown}:{port}/"


class ReviewHandler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "logtune-review"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, msgspec.json.encode(value), "application/json")

    def _refuse(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _host_ok(self) -> bool:
        if self.headers.get("Host") in self.server.hosts:
            return True
        self._refuse(HTTPStatus.FORBIDDEN, "unknown Host: open the URL the server printed")
        return False

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        url = urlsplit(self.path)
        params = parse_qs(url.query)
        try:
            if url.path == "/":
                page = (STATIC / "index.html").read_text().replace("{{token}}", self.server.token)
                self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
            elif url.path in ASSETS:
                name, content_type = ASSETS[url.path]
                self._send(HTTPStatus.OK, (STATIC / name).read_bytes(), content_type)
            elif url.path == "/api/records":
                self._json(HTTPStatus.OK, self.server.app.page(ListQuery.from_params(params)))
            elif url.path.startswith("/api/records/") and url.path[13:].isdigit():
                chosen = (params.get("format") or [None])[0]
                view = self.server.app.record(
                    int(url.path[13:]), chosen, ListQuery.from_params(params)
                )
                self._json(HTTPStatus.OK, view)
            elif url.path == "/favicon.ico":
                self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            else:
                self._refuse(HTTPStatus.NOT_FOUND, f"no such page: {url.path}")
        except UserError as error:
            self._refuse(HTTPStatus.BAD_REQUEST, str(error))

    def do_POST(self) -> None:
        if not self._host_ok():
            return
        if self.headers.get("Origin") not in self.server.origins:
            self._refuse(HTTPStatus.FORBIDDEN, "writes are accepted from this server's page only")
            return
        if not secrets.compare_digest(
            self.headers.get("X-Review-Token", ""), self.server.token
        ) or not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self._refuse(HTTPStatus.FORBIDDEN, "missing or wrong page token: reload the page")
            return
        path = urlsplit(self.path).path
        prefix = "/api/annotations/"
        if not (path.startswith(prefix) and path[len(prefix) :].isdigit()):
            self._refuse(HTTPStatus.NOT_FOUND, f"no such page: {path}")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._refuse(HTTPStatus.BAD_REQUEST, "expected a JSON body of at most 1 MiB")
            return
        body = self.rfile.read(length)
        try:
            self._json(HTTPStatus.OK, self.server.app.save(int(path[len(prefix) :]), body))
        except StaleAnnotation:
            self._refuse(HTTPStatus.CONFLICT, STALE)
        except UserError as error:
            self._refuse(HTTPStatus.BAD_REQUEST, str(error))
