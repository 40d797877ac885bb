"""The README's example: testing host firmware against wsat with pytest.

Run it with `WSAT=target/debug/wsat python -m pytest tests/python/test_host_firmware_example.py`
(the test suite does, from crates/wsat/tests/readme_example.rs).
"""
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import pytest

WSAT = os.environ.get("WSAT", "wsat")


@pytest.fixture
def module():
    """A fresh wsat on a TCP AT port, with its control socket."""
    with tempfile.TemporaryDirectory() as state:
        ctl_path = os.path.join(state, "ctl.sock")
        proc = subprocess.Popen(
            [WSAT, "--tcp", "127.0.0.1:0", "--state", state, "--control", ctl_path, "--no-factory-pki"],
            stderr=subprocess.PIPE, text=True,
        )
        line = proc.stderr.readline()  # "wsat: AT port listening on tcp://127.0.0.1:PORT"
        port = int(re.search(r":(\d+)$", line.strip()).group(1))
        while not os.path.exists(ctl_path):
            time.sleep(0.01)
        at = socket.create_connection(("127.0.0.1", port))
        at.settimeout(10)
        yield at, ctl_path
        at.close()
        proc.terminate()
        proc.wait(timeout=5)


def expect(at, text):
    """Reads from the AT port until `text` has arrived; returns all of it."""
    got = b""
    while text.encode() not in got:
        got += at.recv(4096)
    return got.decode(errors="replace")


def ctl(path, verb, *args):
    """One request on the control socket."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        s.sendall((json.dumps({"verb": verb, "args": list(args)}) + "\n").encode())
        answer = json.loads(s.makefile().readline())
    assert answer["ok"], answer
    return answer


def echo_server():
    """A local TCP echo server; returns its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve():
        conn, _ = srv.accept()
        while data := conn.recv(4096):
            conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def test_firmware_sees_the_link_drop_and_recovers(module):
    at, ctl_path = module
    expect(at, "ready\r\n")
    at.sendall(b'ATE0\r\nAT+CWJAP="espressif","1234567890"\r\n')
    expect(at, "WIFI GOT IP\r\n\r\nOK\r\n")
    port = echo_server()
    at.sendall(f'AT+CIPSTART="TCP","127.0.0.1",{port}\r\n'.encode())
    expect(at, "CONNECT\r\n\r\nOK\r\n")
    assert ctl(ctl_path, "status")["links"][0]["state"] == "connected"

    # The fault your bench cannot make: the network resets the connection.
    ctl(ctl_path, "link", "ip0", "reset")
    expect(at, "CLOSED\r\n")
    assert ctl(ctl_path, "status")["links"] == []
