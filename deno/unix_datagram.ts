/**
 * Unix datagram sockets for the Deno driver: `Deno.listenDatagram({ transport:
 * "unixpacket", path })`, a SOCK_DGRAM Unix socket, present only under `--unstable-net`.
 *
 * @module
 */
import { formatUnixPath } from "../core/address.ts";
import type { RawUnixDatagramSocket, UnixDatagramBindRequest } from "../core/driver.ts";
import { SocketError, socketError } from "../core/errors.ts";
import { deno } from "./deno_api.ts";
import type { DenoUnixDatagramConn } from "./deno_api.ts";
import { denoError } from "./errors.ts";

/**
 * The receive buffer. Linux lets a sender with the default SO_SNDBUF (212,992 bytes)
 * send at most 212,960 bytes in one datagram; Deno's own default buffer (65,507 bytes)
 * would cut longer ones short.
 */
const RECEIVE_BUFFER = 256 * 1024;

/**
 * Why Unix datagram sockets cannot be used here, or undefined under `--unstable-net`.
 *
 * @returns The reason, or undefined.
 */
export function denoUnixDatagramUnsupported(): string | undefined {
  return deno().listenDatagram === undefined
    ? "Deno.listenDatagram({ transport: \"unixpacket\" }) needs --unstable-net"
    : undefined;
}

/**
 * Binds a Unix datagram socket at `request.path`; `Deno.listenDatagram` binds synchronously.
 * Deno's socket does one thing at a time (else "Socket already in use"): sends are queued
 * behind each other, a receive waits for the sends asked before it, and a send while a
 * receive waits is refused with `not-supported`, since that receive may never end.
 *
 * @param request Where to bind.
 * @returns The bound socket.
 */
export function denoUnixDatagramBind(request: UnixDatagramBindRequest): Promise<RawUnixDatagramSocket> {
  const { path } = request;
  const label = formatUnixPath(path);
  const listenDatagram = deno().listenDatagram;
  if (listenDatagram === undefined) {
    return Promise.reject(socketError("not-supported", "unix.bindDatagram", label, denoUnixDatagramUnsupported() ?? ""));
  }
  let conn: DenoUnixDatagramConn;
  try {
    conn = listenDatagram({ transport: "unixpacket", path });
  } catch (error) {
    return Promise.reject(denoError(error, "unix.bindDatagram", label));
  }
  let closed = false;
  let receiving = false;
  /** Settles when the sends asked so far are done. */
  let sends: Promise<void> = Promise.resolve();
  const buffer = new Uint8Array(RECEIVE_BUFFER);
  return Promise.resolve({
    localAddress: { path },
    async receive() {
      if (closed) throw socketError("invalid-state", "unix.receive", label, "socket is closed");
      if (receiving) throw socketError("invalid-state", "unix.receive", label, "one receive at a time");
      receiving = true;
      try {
        await sends;
        if (closed) throw socketError("invalid-state", "unix.receive", label, "socket is closed");
        const [data, from] = await conn.receive(buffer);
        return { data: data.slice(), path: from.path ?? "" };
      } catch (error) {
        if (error instanceof SocketError) throw error;
        throw closed ? socketError("invalid-state", "unix.receive", label, "socket is closed", error) : denoError(error, "unix.receive", label);
      } finally {
        receiving = false;
      }
    },
    async send(data, to) {
      if (closed) throw socketError("invalid-state", "unix.send", label, "socket is closed");
      if (receiving) throw socketError("not-supported", "unix.send", label, BUSY);
      const previous = sends;
      let done = () => {};
      sends = new Promise((resolve) => (done = resolve));
      try {
        await previous;
        if (closed) throw socketError("invalid-state", "unix.send", label, "socket is closed");
        await conn.send(data, { transport: "unixpacket", path: to });
      } catch (error) {
        throw sendError(error, to, closed);
      } finally {
        done();
      }
    },
    close() {
      if (closed) return;
      closed = true;
      conn.close();
    },
  });
}

const BUSY = "Deno cannot send on a Unix datagram socket while a receive() waits on it " +
  "(Deno.DatagramConn takes the socket for one operation at a time): send first, then receive";

/**
 * A failed send. A stream socket at the path gives EPROTOTYPE, for which Deno has no
 * error class or code: nothing there takes datagrams, as with ECONNREFUSED.
 */
function sendError(error: unknown, to: string, closed: boolean): SocketError {
  if (error instanceof SocketError) return error;
  const target = formatUnixPath(to);
  if (closed) return socketError("invalid-state", "unix.send", target, "socket is closed", error);
  if (error instanceof Error && /protocol wrong type/i.test(error.message)) {
    return socketError("connection-refused", "unix.send", target, `not a datagram socket (${error.message})`, error);
  }
  if (error instanceof Error && error.name === "Busy") return socketError("not-supported", "unix.send", target, BUSY, error);
  return denoError(error, "unix.send", target);
}
