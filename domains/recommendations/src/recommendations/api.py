"""The recommendations over HTTP: one indexed lookup in the serving view per request.

    GET /customers/<customer_id>/recommendations
      200 {"customer_id": ..., "product_ids": [...], "categories": [...], "orders": n,
           "updated_at": "..."}
      404 {"error": "no recommendations for this customer"}
      503 {"error": "the recommendations view is not ready"}  (before the flow made it)

    python -m recommendations.api --port 8090     # the view's DSN from MESHKIT_VIEW_DSN

The shop's front end asks this service for the "recommended for you" row of a page. It
uses only the standard library's HTTP server and meshkit's ``ViewReader``; a production
deployment puts it behind the company's usual HTTP stack.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import psycopg2
from meshkit.batch import load_contract
from meshkit.ports.view import ViewReader
from meshkit.settings import load_settings

from recommendations.flow import CONTRACT

PREFIX, SUFFIX = "/customers/", "/recommendations"


def serve(view_dsn: str, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server answering from the serving view (``port`` 0: a free one), not yet started."""
    reader = ViewReader(view_dsn, load_contract(CONTRACT))
    lock = threading.Lock()  # one connection of the reader, one lookup at a time

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
                return self._send(404, {"error": f"not found; GET {PREFIX}<id>{SUFFIX}"})
            customer = unquote(path[len(PREFIX) : -len(SUFFIX)])
            try:
                with lock:
                    record = reader.get(customer)
            except psycopg2.Error:
                with lock:
                    reader.conn.rollback()
                return self._send(503, {"error": "the recommendations view is not ready"})
            if record is None:
                return self._send(404, {"error": "no recommendations for this customer"})
            return self._send(200, record)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a customer id in a request line is not logged."""

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    dsn = load_settings().view_dsn_value()
    if not dsn:
        sys.stderr.write("error: no serving database: set MESHKIT_VIEW_DSN\n")
        return 1
    server = serve(dsn, args.host, args.port)
    sys.stdout.write(
        f"recommendations on http://{args.host}:{server.server_port}{PREFIX}<id>{SUFFIX}\n"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
