"""A foreign STARTTLS server for the client-side STARTTLS test, in plain Python and its
`ssl` module (no runtime of ours involved).

Usage: python3 starttls_server.py CERT_FILE KEY_FILE

Listens on 127.0.0.1 at a free port and prints the port on the first line of stdout.
Serves one connection:
  sends  "220 ready\r\n"
  reads  "STARTTLS\r\n" (one byte at a time, so nothing behind the line is taken)
  sends  "220 go\r\n"
  wraps the socket with `ssl`, server side (CERT_FILE, KEY_FILE)
  reads  a line over TLS and sends it back reversed (without its line end), "\r\n" after
  closes (close_notify, then the socket)
Every wait is bounded (TIMEOUT seconds); it exits non-zero, with the reason on stderr,
when anything goes otherwise.
"""
import socket
import ssl
import sys

TIMEOUT = 10.0
MAX_LINE = 4096


def read_line(sock):
    """Reads up to and including b"\\n", one byte at a time."""
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            raise EOFError("end of stream after %r" % line)
        line += byte
        if len(line) > MAX_LINE:
            raise ValueError("line too long")
    return line


def main():
    cert_file, key_file = sys.argv[1], sys.argv[2]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.settimeout(TIMEOUT)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    print(server.getsockname()[1], flush=True)

    conn, _ = server.accept()
    server.close()
    conn.settimeout(TIMEOUT)
    conn.sendall(b"220 ready\r\n")
    line = read_line(conn)
    if line != b"STARTTLS\r\n":
        conn.sendall(b"500 expected STARTTLS\r\n")
        conn.close()
        sys.exit("expected STARTTLS, got %r" % line)
    conn.sendall(b"220 go\r\n")

    secure = context.wrap_socket(conn, server_side=True)
    line = read_line(secure)
    secure.sendall(line.rstrip(b"\r\n")[::-1] + b"\r\n")
    try:
        # Sends close_notify, then waits (bounded) for the client's or its end of stream.
        secure.unwrap().close()
    except (ssl.SSLError, OSError):
        secure.close()


try:
    main()
except Exception as error:  # noqa: BLE001 - any failure is reported and ends the peer
    sys.exit("starttls_server.py: %s: %s" % (type(error).__name__, error))
