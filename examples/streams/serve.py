#!/usr/bin/env python3
"""A small local SSE device for trying sse-connector: python3 examples/streams/serve.py [PORT]

Serves GET /events as text/event-stream: one `reading` event per second with an increasing id,
an `alarm` now and then, and a comment as heartbeat. It resumes after the Last-Event-ID the
client sends, and drops the connection every 20 events so that reconnection can be watched.
Standard library only; listens on 127.0.0.1.
"""
import json
import random
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Device(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/events":
            self.send_error(404, "try /events")
            return
        last = self.headers.get("Last-Event-ID", "0")
        seq = int(last) if last.isdigit() else 0
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            self.wfile.write(b"retry: 1000\n\n")
            for _ in range(20):
                seq += 1
                kind = "alarm" if seq % 7 == 0 else "reading"
                data = {"sensor": "temp-01", "value": round(20 + random.random() * 5, 2), "seq": seq}
                if kind == "alarm":
                    data = {"sensor": "press-07", "level": "high", "seq": seq}
                self.wfile.write(f"id: {seq}\nevent: {kind}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.write(b": heartbeat\n")
                self.wfile.flush()
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, fmt, *args):
        sys.stderr.write("device: " + (fmt % args) + "\n")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8090
    print(f"device: streaming on http://127.0.0.1:{port}/events", file=sys.stderr)
    ThreadingHTTPServer(("127.0.0.1", port), Device).serve_forever()
