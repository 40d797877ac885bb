#!/usr/bin/env python
# A wss:// echo server that does not ask for a client certificate:
# `wss-echo-server.py HOST PORT CERT KEY` (port 0 picks a free one).

import asyncio
import ssl
import sys
from websockets.server import serve

host, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)

async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile=cert, keyfile=key)
    async with serve(echo, host, port, ssl=ctx) as server:
        print(f"Server started at wss://{host}:{server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.get_running_loop().create_future()

asyncio.run(main())
