"""A TCP fault proxy for scripts/fault-suite (what toxiproxy does; it is not packaged here).

    fault_proxy.py LISTEN_PORT TARGET_PORT LATENCY_MS [LISTEN_HOST]

Forwards LISTEN_HOST:LISTEN_PORT (default 127.0.0.1) to 127.0.0.1:TARGET_PORT, holding each chunk LATENCY_MS before
passing it on. SIGUSR1 cuts every connection through it (a dropped connection: both ends see a reset); SIGUSR2
stops, then resumes, all forwarding (a stall: bytes wait, nothing is closed). It prints each fault with the number
of connections it hit.
"""
import asyncio, signal, sys

LISTEN, TARGET, LATENCY = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
LISTEN_HOST = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
pairs = set()
flowing = None


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            await flowing.wait()
            if LATENCY:
                await asyncio.sleep(LATENCY)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", TARGET)
    except OSError:
        client_writer.transport.abort()
        return
    pair = (client_writer, server_writer)
    pairs.add(pair)
    print("connected", len(pairs), flush=True)
    await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
    pairs.discard(pair)


def cut():
    hit = len(pairs)
    for pair in list(pairs):
        for writer in pair:
            writer.transport.abort()
    print("cut", hit, flush=True)


def stall():
    if flowing.is_set():
        flowing.clear()
        print("stalled", len(pairs), flush=True)
    else:
        flowing.set()
        print("resumed", len(pairs), flush=True)


async def main():
    global flowing
    flowing = asyncio.Event()
    flowing.set()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGUSR2, stall)
    server = await asyncio.start_server(handle, LISTEN_HOST, LISTEN)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
