#!/usr/bin/env python
# The seed's "WebSocket server over TCP" example, unchanged but for where it
# listens: host and port come from the command line (port 0 picks a free
# one), and it prints the port it got.

import asyncio
import sys
from websockets.server import serve

host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8765

async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)

async def main():
    async with serve(echo, host, port) as server:
        port_got = server.sockets[0].getsockname()[1]
        print(f"Server started at ws://{host}:{port_got}", flush=True)
        await asyncio.get_running_loop().create_future()  # run forever

asyncio.run(main())
