"""A media source that stalls, for scripts/fault-suite: `PORT` accepts connections and never sends a byte;
`PORT FILE FRACTION` answers every request with FILE's full length but sends only FRACTION of its bytes."""
import socket, sys, threading, time

port = int(sys.argv[1])
data = open(sys.argv[2], "rb").read() if len(sys.argv) > 2 else None
sent = int(len(data) * float(sys.argv[3])) if data else 0
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(16)
print("ready", flush=True)

def serve(connection):
    if data is not None:
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: %d\r\n\r\n" % len(data) + data[:sent])
    time.sleep(3600)

while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
