#!/usr/bin/env python3
"""make demo: a local HTTP endpoint subscribed to the alert topic (moto's SNS posts each message to it).

Usage: demo_subscriber.py PORTFILE OUTFILE. Binds 127.0.0.1 on a free port, writes the port to PORTFILE, and appends
every SNS Notification to OUTFILE as a person would read it: the subject, then the text (the "text" field of the
JSON document that http subscribers receive). Stopped by the demo with kill PID.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        self.send_response(200)
        self.end_headers()
        try:
            note = json.loads(body)
        except ValueError:
            return
        if note.get("Type") != "Notification":
            return
        message = note.get("Message", "")
        try:
            text = json.loads(message).get("text", message)
        except ValueError:
            text = message
        with open(sys.argv[2], "a", encoding="utf-8") as out:
            out.write("+" + "-" * 78 + "\n")
            out.write("| Subject: %s\n" % note.get("Subject", ""))
            out.write("+" + "-" * 78 + "\n")
            out.write(text.rstrip("\n") + "\n\n")

    def log_message(self, *args):  # quiet: the demo prints the messages, not the requests
        pass


def main():
    server = HTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
