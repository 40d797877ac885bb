#!/usr/bin/env python
# The seed's "WebSocket server over TLS" example, unchanged but for where it
# listens and where its files are: `wss-server.py HOST PORT CA CERT KEY`
# (port 0 picks a free one), and it prints the port it got.

import asyncio
import ssl
import sys
import websockets

host = sys.argv[1]
port = int(sys.argv[2])
server_ca = sys.argv[3]
server_cert = sys.argv[4]
server_key = sys.argv[5]

async def echo(websocket, path):
    async for message in websocket:
        await websocket.send(message)

ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ssl_context.load_cert_chain(certfile=server_cert, keyfile=server_key)
ssl_context.verify_mode = ssl.CERT_REQUIRED
ssl_context.load_verify_locations(server_ca)

start_server = websockets.serve(echo, host, port, ssl=ssl_context)

server = asyncio.get_event_loop().run_until_complete(start_server)
print(f"Server started at wss://{host}:{server.sockets[0].getsockname()[1]}", flush=True)

asyncio.get_event_loop().run_forever()
