#!/usr/bin/env python3
"""Opens N keep-alive connections to HOST:PORT, sends one request on each (TLS optional),
keeps them open, prints the RSS of PID, then closes them.
usage: idle_conns.py PID HOST PORT N [--tls CAFILE]"""
import socket, ssl, sys, time

pid, host, port, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ctx = None
if len(sys.argv) > 6 and sys.argv[5] == "--tls":
    ctx = ssl.create_default_context(cafile=sys.argv[6])

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

before = rss_kb(pid)
socks = []
for i in range(n):
    s = socket.create_connection((host, port))
    if ctx:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    s.sendall(b"GET /data.json HTTP/1.1\r\nHost: localhost\r\n\r\n")
    socks.append(s)
for s in socks:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
time.sleep(1.0)
after = rss_kb(pid)
print(f"rss_before_kb={before} rss_with_{n}_idle_kb={after}")
for s in socks:
    s.close()
