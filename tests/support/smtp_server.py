#!/usr/bin/env python3
"""A real SMTP server for the tests (Debian's aiosmtpd) that requires STARTTLS and AUTH.

  smtp_server.py --port-file F --log F --cert C --key K --user U --password P

Each message accepted is appended to the log as one JSON line: the authenticated user,
the envelope's sender and recipients, and the message's text."""
import argparse
import json
import os
import socket
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

args = None
lock = threading.Lock()


class Handler:
    async def handle_DATA(self, server, session, envelope):
        user = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        line = json.dumps({"user": user, "from": envelope.mail_from, "to": envelope.rcpt_tos,
                           "data": envelope.content.decode("utf-8", "replace")}) + "\n"
        with lock:
            # One write of the whole line: a reader never sees half of it.
            fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user and
          auth_data.password.decode() == args.password)
    return AuthResult(success=ok, auth_data=auth_data)


def main():
    global args
    p = argparse.ArgumentParser()
    for a in ("--port-file", "--log", "--cert", "--key", "--user", "--password"):
        p.add_argument(a, required=True)
    args = p.parse_args()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=tls,
                            require_starttls=True, auth_required=True,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
