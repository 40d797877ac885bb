#!/usr/bin/env python
# A local SNTP server for tests: `sntp-server.py MODE [PORT]`, where MODE is
# `good` (answers with this machine's time, or FIXED_UNIX seconds if given
# as a third argument), `silent` (never answers) or `garbage` (answers
# nonsense). Prints "SNTP server on udp://127.0.0.1:<port>".

import socket
import struct
import sys
import time

mode = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
fixed = float(sys.argv[3]) if len(sys.argv) > 3 else None
NTP_UNIX = 2208988800

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", port))
print(f"SNTP server on udp://127.0.0.1:{sock.getsockname()[1]}", flush=True)

while True:
    data, peer = sock.recvfrom(512)
    if mode == "silent" or len(data) < 48:
        continue
    if mode == "garbage":
        sock.sendto(b"\xff" * 48, peer)
        sock.sendto(b"not ntp", peer)
        continue
    now = fixed if fixed is not None else time.time()
    secs = int(now) + NTP_UNIX
    frac = int((now % 1) * (1 << 32))
    reply = struct.pack("!BBbb", (0 << 6) | (4 << 3) | 4, 2, 6, -20)
    reply += b"\x00" * 8 + b"LOCL"
    reply += struct.pack("!II", secs, frac)  # reference
    reply += data[40:48]                     # originate = client's transmit
    reply += struct.pack("!II", secs, frac)  # receive
    reply += struct.pack("!II", secs, frac)  # transmit
    sock.sendto(reply, peer)
