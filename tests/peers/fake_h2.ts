/**
 * A fake HTTP/2 server for DNS-over-HTTPS fault tests: TLS with ALPN `h2` on a unisock
 * listener, the client's preface skipped, then each connection handed to the test's own
 * code, which reads the client's frames and writes whatever frames it likes.
 */
import type { Connection } from "../../core/connection.ts";
import { tcp } from "../../mod.ts";
import type { TestCertificates } from "./certs.ts";

/** A frame the client sent. */
export interface H2Frame {
  type: number;
  flags: number;
  id: number;
  payload: Uint8Array;
}

/** One client connection, its preface already read. */
export interface FakeH2Session {
  /** The client's next frame, or null at the end of the connection. */
  next(): Promise<H2Frame | null>;
  /** Writes raw bytes (frames made with {@linkcode h2Frame}); false once the connection failed. */
  write(bytes: Uint8Array): Promise<boolean>;
  readonly conn: Connection;
}

/** A running fake server. */
export interface FakeH2Server {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops listening, lets the handlers end (3 s at most), then closes every connection. */
  close(): Promise<void>;
}

/** A frame's bytes. */
export function h2Frame(type: number, flags: number, id: number, payload: Uint8Array | number[] = []): Uint8Array {
  const body = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
  const bytes = new Uint8Array(9 + body.length);
  bytes.set([body.length >>> 16, (body.length >>> 8) & 0xff, body.length & 0xff, type, flags, (id >>> 24) & 0x7f, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff]);
  bytes.set(body, 9);
  return bytes;
}

/** The frames joined into one buffer (one write). */
export function joinFrames(frames: Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(frames.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of frames) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}

/**
 * Starts the server on 127.0.0.1. `handle` runs for each connection; the connection is
 * closed when it returns (or throws).
 */
export async function startFakeH2(certs: TestCertificates, handle: (session: FakeH2Session) => Promise<void>): Promise<FakeH2Server> {
  const listener = await tcp.listen({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: certs.server.cert, key: certs.server.key, alpn: ["h2"] },
  });
  let accepted = 0;
  const conns = new Set<Connection>();
  const sessions: Promise<void>[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.add(conn);
      sessions.push(serve(conn, handle).finally(() => {
        conns.delete(conn);
        conn.close();
      }));
    }
  })();
  return {
    port: listener.localAddress.port,
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      await serving;
      // The handlers first finish reading what the clients sent (for at most 3 s).
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all(sessions), new Promise((resolve) => (timer = setTimeout(resolve, 3000)))]);
      clearTimeout(timer);
      for (const conn of conns) conn.close();
      // Closed now: their reads end at once (bounded all the same).
      let limit: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all(sessions), new Promise((resolve) => (limit = setTimeout(resolve, 3000)))]);
      clearTimeout(limit);
    },
  };
}

async function serve(conn: Connection, handle: (session: FakeH2Session) => Promise<void>): Promise<void> {
  let pending = new Uint8Array(0);
  const buffer = new Uint8Array(64 * 1024);
  /** At least `size` octets in `pending`, or false at the end. */
  const fill = async (size: number): Promise<boolean> => {
    while (pending.length < size) {
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch {
        return false;
      }
      if (count === null) return false;
      const more = new Uint8Array(pending.length + count);
      more.set(pending);
      more.set(buffer.subarray(0, count), pending.length);
      pending = more;
    }
    return true;
  };
  const take = (size: number): Uint8Array => {
    const part = pending.slice(0, size);
    pending = pending.slice(size);
    return part;
  };
  const session: FakeH2Session = {
    conn,
    async next() {
      if (!(await fill(9))) return null;
      const length = (pending[0] << 16) | (pending[1] << 8) | pending[2];
      if (!(await fill(9 + length))) return null;
      const header = take(9);
      const id = ((header[5] & 0x7f) << 24) | (header[6] << 16) | (header[7] << 8) | header[8];
      return { type: header[3], flags: header[4], id, payload: take(length) };
    },
    async write(bytes) {
      try {
        await conn.write(bytes);
        return true;
      } catch {
        return false;
      }
    },
  };
  try {
    if (!(await fill(24))) return;
    take(24); // PRI * HTTP/2.0 ...
    await handle(session);
  } catch {
    // the client went away
  }
}
