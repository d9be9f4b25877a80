#!/usr/bin/env python3
"""A receiver of Jizhan's notifications for the tests: one HTTP server on loopback that
plays every channel and checks each payload and signature with its own code (Python's
hmac), not Jizhan's.

  alert_receiver.py --port-file F --log F --secret S [--fail-every N] [--max-skew S]

Paths: /webhook, /slack, /dingtalk, /wecom, /feishu (any suffix, e.g. /webhook/a). Each
request is appended to the log as one JSON line: path, channel, signature ("ok", "bad"
or "none"), the parsed body and the answer sent. /flaky/... fails every other request
(500), the rest answer as the channel's service does."""
import argparse
import base64
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
lock = threading.Lock()
counts = {}


def check_webhook(headers, raw):
    ts, sig = headers.get("X-Jizhan-Timestamp"), headers.get("X-Jizhan-Signature")
    if not sig:
        return "none"
    want = "sha256=" + hmac.new(args.secret.encode(), ts.encode() + b"." + raw,
                                hashlib.sha256).hexdigest()
    fresh = args.max_skew == 0 or abs(time.time() - int(ts)) < args.max_skew
    return "ok" if hmac.compare_digest(want, sig) and fresh else "bad"


def check_dingtalk(query):
    if "sign" not in query:
        return "none"
    ts = query["timestamp"][0]
    mac = hmac.new(args.secret.encode(), (ts + "\n" + args.secret).encode(), hashlib.sha256)
    want = base64.b64encode(mac.digest()).decode()
    # parse_qs decoded the URL encoding once, as DingTalk does.
    return "ok" if hmac.compare_digest(want, query["sign"][0]) else "bad"


def check_feishu(body):
    if "sign" not in body:
        return "none"
    key = (body["timestamp"] + "\n" + args.secret).encode()
    want = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    return "ok" if hmac.compare_digest(want, body["sign"]) else "bad"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        parts = url.path.strip("/").split("/")
        channel = parts[0]
        flaky = channel == "flaky"
        if flaky:
            channel = parts[1] if len(parts) > 1 else "webhook"
        signature, answer, status = "none", {"ok": True}, 200
        if channel == "webhook":
            signature = check_webhook(self.headers, raw)
        elif channel == "dingtalk":
            signature = check_dingtalk(urllib.parse.parse_qs(url.query))
            answer = {"errcode": 0, "errmsg": "ok"}
            if body is None or body.get("msgtype") not in ("text", "markdown"):
                answer = {"errcode": 40035, "errmsg": "bad msgtype"}
        elif channel == "wecom":
            answer = {"errcode": 0, "errmsg": "ok"}
            if body is None or "markdown" not in body and "text" not in body:
                answer = {"errcode": 40008, "errmsg": "bad message"}
        elif channel == "feishu":
            signature = check_feishu(body or {})
            answer = {"code": 0, "msg": "success"}
            if signature == "bad":
                answer = {"code": 19021, "msg": "sign match fail"}
        if signature == "bad" and channel == "webhook":
            status, answer = 401, {"error": "bad signature"}
        with lock:
            counts[url.path] = counts.get(url.path, 0) + 1
            n = counts[url.path]
        if flaky and n % args.fail_every != 0:
            status, answer = 500, {"error": "flaky receiver"}
        # Logged before the answer: whoever got the answer finds the line.
        line = json.dumps({"path": url.path, "channel": channel, "signature": signature,
                           "status": status, "body": body}) + "\n"
        with lock:
            # One write of the whole line: a reader never sees half of it.
            fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        out = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--secret", default="")
    p.add_argument("--fail-every", type=int, default=2)
    p.add_argument("--max-skew", type=int, default=0, help="seconds; 0: any timestamp")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
