"""A TLS client for the SSL server tests.

Usage: tls-client.py HOST PORT CERT KEY MESSAGE
Connects (without checking the server, as a device would with a
self-signed module certificate), presents CERT/KEY, sends MESSAGE, prints
the first reply line it gets back, then closes.
"""
import socket
import ssl
import sys

host, port, cert, key, message = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if cert != "-":
    ctx.load_cert_chain(cert, key)
with socket.create_connection((host, port), timeout=10) as raw:
    with ctx.wrap_socket(raw) as s:
        s.sendall(message.encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        print(data.decode().strip(), flush=True)
