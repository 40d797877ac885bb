"""A TLS echo server on loopback for the SSL link tests.

Usage: tls-echo-server.py HOST PORT CERT KEY [CLIENT_CA]
With CLIENT_CA, clients must present a certificate that chains to it.
Prints "tls://HOST:PORT" once listening, then echoes every connection.
"""
import asyncio
import ssl
import sys


async def main() -> None:
    host, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if len(sys.argv) > 5:
        ctx.load_verify_locations(sys.argv[5])
        ctx.verify_mode = ssl.CERT_REQUIRED

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, host, port, ssl=ctx)
    print(f"tls://{host}:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
