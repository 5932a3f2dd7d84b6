#!/usr/bin/env python3
"""Sends exactly N GET requests (default /data.json) over 10 keep-alive connections to
127.0.0.1:PORT and reads every response; a fixed amount of work, for instruction counts.
With BODY_FILE set, the requests are POSTs of that file as application/json.
usage: keepalive_load.py PORT N [PATH] [HEADER]"""
import os
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
path = sys.argv[3] if len(sys.argv) > 3 else "/data.json"
extra = sys.argv[4] + "\r\n" if len(sys.argv) > 4 else ""
if os.environ.get("BODY_FILE"):
    body = open(os.environ["BODY_FILE"], "rb").read()
    req = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body
else:
    req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode()


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(head.split(b"\r\n")[0].decode())
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0]
    while len(body) < length:
        body += s.recv(65536)


for _ in range(n // len(socks)):
    for s in socks:
        s.sendall(req)
    for s in socks:
        read_response(s)
