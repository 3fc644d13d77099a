"""An app backend for the test ground: answers every request with who it is and what it saw.

Run inside a network namespace (:mod:`e2e.servers.netns`)::

    python -m e2e.servers.backend --name web --bind 10.254.1.2 --port 8080 [--cert F --key F]

Every answer is ``200`` with a JSON body ``{"backend", "host", "path", "method", "headers"}``, so
a test sees which backend a request reached and what the proxy forwarded. ``/status/<code>``
answers with that status instead (to trigger a fleet's error pages). With ``--cert``/``--key`` it
speaks TLS itself (the SSL-passthrough backend: the client must see this certificate).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["main"]


def _handler(name: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "test-backend"

        def _answer(self) -> None:
            status = 200
            if self.path.startswith("/status/"):
                status = int(self.path.removeprefix("/status/").split("?")[0] or 200)
            body = json.dumps(
                {
                    "backend": name,
                    "host": self.headers.get("Host", ""),
                    "path": self.path,
                    "method": self.command,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{name}: {format % args}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.bind, args.port), _handler(args.name))
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
