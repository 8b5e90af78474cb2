#!/usr/bin/env python3
"""A registry that goes away in the middle of a pull, for crispd_storage_faults.sh.

  registry_proxy.py UPSTREAM_HOST:PORT LISTEN_PORT

Forwards every GET and HEAD to the real local registry, except a blob
larger than 512 KiB: of that it sends the headers (the full
Content-Length) and half the body, then drops the connection, as a
registry that dies mid-transfer does. Standard library only.
"""
import http.client
import http.server
import socketserver
import sys

UPSTREAM = sys.argv[1]
LIMIT = 512 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    def forward(self, body):
        upstream = http.client.HTTPConnection(UPSTREAM, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream.request(self.command, self.path, headers=headers)
        response = upstream.getresponse()
        data = response.read() if body else b""
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection"):
                self.send_header(key, value)
        self.end_headers()
        if not body:
            return
        if "/blobs/" in self.path and len(data) > LIMIT:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(data)

    def do_GET(self):
        self.forward(True)

    def do_HEAD(self):
        self.forward(False)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
