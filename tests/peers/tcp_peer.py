"""A misbehaving TCP peer for fault tests, in plain Python (no runtime of ours involved).

Modes (first argument):
  blackhole  listen with backlog 0 and fill the queue: later SYNs are dropped, so a
             connect to the printed port hangs until it times out.
  reset      accept one connection, read until it has 1 byte, then close with
             SO_LINGER 0: the kernel sends RST instead of FIN.
  stream     accept one connection and send to it without end (until killed).
  sink       accept one connection and read from it without end (until killed).
Prints the port on the first line of stdout, then runs until stdin closes.
"""
import socket
import struct
import sys
import threading

mode = sys.argv[1]
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(("127.0.0.1", 0))
server.listen(0)
port = server.getsockname()[1]
keep = []

if mode == "blackhole":
    filler = socket.create_connection(("127.0.0.1", port))
    keep.append(filler)
elif mode == "reset":
    def reset_one():
        conn, _ = server.accept()
        conn.recv(1)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    threading.Thread(target=reset_one, daemon=True).start()
elif mode in ("stream", "sink"):
    def serve():
        conn, _ = server.accept()
        keep.append(conn)
        chunk = bytes(64 * 1024)
        while True:
            if mode == "stream":
                conn.sendall(chunk)
            elif not conn.recv(64 * 1024):
                return
    threading.Thread(target=serve, daemon=True).start()
else:
    sys.exit("unknown mode " + mode)

print(port, flush=True)
sys.stdin.read()
