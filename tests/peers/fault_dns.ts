/**
 * A small fault-injecting DNS server for tests, on 127.0.0.1: UDP and TCP on one port
 * number. A callback decides, per query, what goes back: a reply, raw bytes, a reply
 * from another UDP port, nothing, or several of these in order.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";
import { frameForTcp, TcpFrameReader } from "../../resolve/wire/packet.ts";

/**
 * What the server does with one query.
 *
 * - `reply`: encodes `packet` and sends it to the asker, after `delayMs` if given.
 * - `raw`: sends these exact bytes. Over TCP they are written as they are, without a
 *   length prefix, so a test can also break the framing (frame with `frameForTcp`).
 * - `from-other-port`: UDP only: sends the reply from a fresh socket on another port.
 *   Over TCP it is an ordinary reply on the connection.
 * - `drop`: no answer (over TCP the connection stays open).
 * - `many`: each action in order (delays run from the query, not from the previous one).
 */
export type FaultAction =
  | { kind: "reply"; packet: dnsPacket.Packet; delayMs?: number }
  | { kind: "raw"; bytes: Uint8Array; delayMs?: number }
  | { kind: "from-other-port"; packet: dnsPacket.Packet }
  | { kind: "drop" }
  | { kind: "many"; actions: FaultAction[] };

/** How the server treats queries over each transport. */
export interface FaultDnsOptions {
  /** Decides what to do with each decodable UDP query; `remote` is where it came from. */
  udp: (query: dnsPacket.DecodedPacket, raw: Uint8Array, remote: { address: string; port: number }) => FaultAction;
  /** Decides what to do with each decodable TCP query; without it, the connection is dropped. */
  tcp?: (query: dnsPacket.DecodedPacket, raw: Uint8Array) => FaultAction;
}

/** A running fault server. */
export interface FaultDns {
  /** The port, the same for UDP and TCP on 127.0.0.1. */
  port: number;
  /** Decodable queries received over UDP so far. */
  udpQueries: number;
  /** Decodable queries received over TCP so far. */
  tcpQueries: number;
  /** Clears pending replies and closes every socket. */
  close(): Promise<void>;
}

const HOST = "127.0.0.1";

/** Where the bytes of an action go: a reply (framed over TCP), raw bytes, the other UDP port. */
interface Transport {
  reply(bytes: Uint8Array): void;
  raw(bytes: Uint8Array): void;
  fromOtherPort(bytes: Uint8Array): void;
}

/** Decodes a query, or undefined when dns-packet cannot (such queries are ignored). */
function decodeQuery(raw: Uint8Array): dnsPacket.DecodedPacket | undefined {
  try {
    return dnsPacket.decode(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
  } catch {
    return undefined;
  }
}

/** Binds UDP to a free port, then TCP to the same number; retries when TCP finds it taken. */
async function bindPair(): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(0, HOST, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    const tcp = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(udp.address().port, HOST, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
      return { udp, tcp };
    } catch (error) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      const code = (error as { code?: unknown }).code;
      if (code !== "EADDRINUSE" || attempt >= 20) throw error;
    }
  }
}

/**
 * Starts a fault server on 127.0.0.1.
 *
 * @param options The per-query decisions for UDP and TCP.
 * @returns The running server.
 */
export async function startFaultDns(options: FaultDnsOptions): Promise<FaultDns> {
  const { udp, tcp } = await bindPair();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const otherSockets = new Set<dgram.Socket>();
  const connections = new Set<net.Socket>();
  let closed = false;

  const later = (delayMs: number | undefined, work: () => void) => {
    if (delayMs === undefined || delayMs <= 0) return work();
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) work();
    }, delayMs);
    timers.add(timer);
  };

  const sendFromOtherPort = (bytes: Uint8Array, port: number, address: string) => {
    const other = dgram.createSocket("udp4");
    otherSockets.add(other);
    const done = () => {
      if (otherSockets.delete(other)) other.close();
    };
    other.once("error", done);
    other.bind(0, HOST, () => {
      if (closed) return done();
      other.send(bytes, port, address, done);
    });
  };

  /** Carries out `action` over the transport the query came in on. */
  const perform = (action: FaultAction, transport: Transport): void => {
    switch (action.kind) {
      case "reply":
        return later(action.delayMs, () => transport.reply(dnsPacket.encode(action.packet)));
      case "raw":
        return later(action.delayMs, () => transport.raw(action.bytes));
      case "from-other-port":
        return transport.fromOtherPort(dnsPacket.encode(action.packet));
      case "drop":
        return;
      case "many":
        for (const each of action.actions) perform(each, transport);
        return;
    }
  };

  const server: FaultDns = {
    port: udp.address().port,
    udpQueries: 0,
    tcpQueries: 0,
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const other of otherSockets) other.close();
      otherSockets.clear();
      for (const connection of connections) connection.destroy();
      connections.clear();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };

  udp.on("message", (message: Uint8Array, remote: dgram.RemoteInfo) => {
    const raw = new Uint8Array(message);
    const query = decodeQuery(raw);
    if (query === undefined || closed) return;
    server.udpQueries++;
    const send = (bytes: Uint8Array) => {
      if (!closed) udp.send(bytes, remote.port, remote.address);
    };
    const fromOtherPort = (bytes: Uint8Array) => sendFromOtherPort(bytes, remote.port, remote.address);
    perform(options.udp(query, raw, { address: remote.address, port: remote.port }), { reply: send, raw: send, fromOtherPort });
  });
  udp.on("error", () => {});

  tcp.on("connection", (connection: net.Socket) => {
    connections.add(connection);
    connection.on("close", () => connections.delete(connection));
    connection.on("error", () => {});
    const reader = new TcpFrameReader();
    connection.on("data", (chunk: Uint8Array) => {
      for (const raw of reader.push(chunk)) {
        const query = decodeQuery(raw);
        if (query === undefined || closed) continue;
        server.tcpQueries++;
        if (options.tcp === undefined) {
          connection.destroy();
          return;
        }
        const send = (bytes: Uint8Array) => {
          if (!connection.destroyed) connection.write(bytes);
        };
        const framed = (bytes: Uint8Array) => send(frameForTcp(bytes));
        perform(options.tcp(query, raw), { reply: framed, raw: send, fromOtherPort: framed });
      }
    });
  });

  return server;
}

/**
 * A name with the case of every ASCII letter swapped: for a reply whose question is the
 * query's in the wrong case (what a server that does not echo DNS 0x20 case, or a forger
 * who guessed the ID but not the case, sends). Use it as `answer`'s `questionName`.
 *
 * @param name The query's question name.
 * @returns The name in the other case.
 */
export function swapCase(name: string): string {
  return name.replace(/[A-Za-z]/g, (letter) => (letter === letter.toLowerCase() ? letter.toUpperCase() : letter.toLowerCase()));
}

const RCODES: Record<string, number> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
};

/**
 * Builds a response to `query`: its id and first question, RA set and RD copied, the
 * given answer records. `overrides` changes the id, the rcode (a name such as
 * `"NXDOMAIN"`, or `"RCODE_n"`), the flags (replacing the default RA/RD; the rcode and
 * `truncated` still apply on top), the authority section, the TC bit, or the question name.
 *
 * @param query The query being answered.
 * @param records The answer section.
 * @param overrides What to change.
 * @returns A packet for a `reply` or `from-other-port` action.
 */
export function answer(
  query: dnsPacket.DecodedPacket,
  records: dnsPacket.Answer[],
  overrides: {
    id?: number;
    rcode?: string;
    flags?: number;
    authorities?: dnsPacket.Answer[];
    truncated?: boolean;
    questionName?: string;
  } = {},
): dnsPacket.Packet {
  let flags = overrides.flags ?? (dnsPacket.RECURSION_AVAILABLE | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0));
  if (overrides.truncated) flags |= dnsPacket.TRUNCATED_RESPONSE;
  if (overrides.rcode !== undefined) {
    const name = overrides.rcode.toUpperCase();
    const rcode = RCODES[name] ?? (/^RCODE_\d+$/.test(name) ? Number(name.slice(6)) : Number.NaN);
    if (!(rcode >= 0 && rcode <= 15)) throw new Error(`unknown rcode ${overrides.rcode}`);
    flags = (flags & ~0x0f) | rcode;
  }
  const question = query.questions?.[0];
  return {
    type: "response",
    id: overrides.id ?? query.id,
    flags,
    questions: question === undefined ? [] : [{ ...question, name: overrides.questionName ?? question.name }],
    answers: records,
    authorities: overrides.authorities ?? [],
  };
}
