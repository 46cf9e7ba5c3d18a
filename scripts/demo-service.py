#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The demo's stand-in service until sluiced serves it: a thread per
# connection, each request burning CPU_US microseconds of CPU, with no
# protection of its own -- the kind of service a burst takes down.
# Usage: demo-service.py ADDRESS PORT CPU_US
import http.server
import sys
import time

CPU_S = int(sys.argv[3]) / 1e6


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        until = time.thread_time() + CPU_S
        while time.thread_time() < until:
            pass
        body = b"done\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            pass  # clients that gave up: expected under a burst


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 4096
    daemon_threads = True


Server((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
