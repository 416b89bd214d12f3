/**
 * Self-check of the unbound peer (tests/peers/unbound.ts): plain DNS over UDP and TCP,
 * DNS over TLS and DNS over HTTPS answer from the test zone, and a name outside it is
 * answered at once without any query leaving. Only node:dgram, node:net, node:tls,
 * node:http2 and the `dns-packet` package are used, not unisock's resolver, so a failure
 * points at the peer.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import dnsPacket from "dns-packet";
import { testCertificates } from "./peers/certs.ts";
import type { TestCertificates } from "./peers/certs.ts";
import { startUnbound } from "./peers/unbound.ts";
import type { UnboundPeer } from "./peers/unbound.ts";

/** Bound of every exchange here. */
const WAIT_MS = 5_000;

function query(id: number, name: string, type: "A" | "AAAA" = "A"): Uint8Array {
  return new Uint8Array(dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: "IN" }],
  }));
}

/** A decoded message; dns-packet sets `rcode` (its types leave it out). */
type Reply = dnsPacket.DecodedPacket & { rcode?: string };

function decode(bytes: Uint8Array): Reply {
  return dnsPacket.decode(Buffer.from(bytes));
}

/** The data of the answers of `type`, as strings. */
function data(packet: Reply, type: string): string[] {
  return (packet.answers ?? []).flatMap((answer) => (answer.type === type && "data" in answer ? [String(answer.data)] : []));
}

function framed(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/** Collects 2-byte length-prefixed messages from a stream's chunks. */
class FrameReader {
  #buffer = new Uint8Array(0);
  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (joined.length - offset >= 2) {
      const length = (joined[offset]! << 8) | joined[offset + 1]!;
      if (joined.length - offset - 2 < length) break;
      frames.push(joined.slice(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    this.#buffer = joined.slice(offset);
    return frames;
  }
}

/** One query over UDP from a fresh socket; the reply, or a rejection after WAIT_MS. */
async function askUdp(port: number, message: Uint8Array): Promise<Uint8Array> {
  const socket = dgram.createSocket("udp4");
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no UDP reply within ${WAIT_MS} ms`)), WAIT_MS);
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once("message", (bytes: Uint8Array) => {
        clearTimeout(timer);
        resolve(new Uint8Array(bytes));
      });
      socket.send(message, port, "127.0.0.1");
    });
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/**
 * Writes all `messages` framed at once on one stream connection (TCP, or TLS when `tlsCa`
 * is given), reads as many framed replies; destroys the connection before it settles.
 */
function askStream(port: number, messages: Uint8Array[], tlsCa?: string): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const bytes = new Uint8Array(messages.reduce((sum, message) => sum + message.length + 2, 0));
    let offset = 0;
    for (const message of messages) {
      bytes.set(framed(message), offset);
      offset += message.length + 2;
    }
    const socket: net.Socket = tlsCa === undefined
      ? net.connect(port, "127.0.0.1", () => socket.write(bytes))
      : tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca: tlsCa }, () => socket.write(bytes));
    const reader = new FrameReader();
    const replies: Uint8Array[] = [];
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    const timer = setTimeout(
      () => finish(new Error(`${replies.length} of ${messages.length} replies within ${WAIT_MS} ms`)),
      WAIT_MS,
    );
    socket.on("data", (chunk: Uint8Array) => {
      replies.push(...reader.push(chunk));
      if (replies.length >= messages.length) finish();
    });
    socket.on("error", (error: Error) => finish(error));
    socket.on("close", () => finish(new Error(`closed after ${replies.length} of ${messages.length} replies`)));
  });
}

interface DohReply {
  status: number;
  contentType: string | undefined;
  body: Uint8Array;
}

/** One DoH exchange on `session`: POST the message, or GET `?dns=` when `get`. */
function askDoh(session: http2.ClientHttp2Session, path: string, message: Uint8Array, get = false): Promise<DohReply> {
  return new Promise((resolve, reject) => {
    const headers: http2.OutgoingHttpHeaders = get
      ? { ":method": "GET", ":path": `${path}?dns=${Buffer.from(message).toString("base64url")}`, accept: "application/dns-message" }
      : { ":method": "POST", ":path": path, "content-type": "application/dns-message", accept: "application/dns-message" };
    const stream = session.request(headers);
    const chunks: Uint8Array[] = [];
    let status = 0;
    let contentType: string | undefined;
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`no DoH reply within ${WAIT_MS} ms`));
    }, WAIT_MS);
    stream.on("response", (responseHeaders) => {
      status = Number(responseHeaders[":status"]);
      const type = responseHeaders["content-type"];
      contentType = Array.isArray(type) ? type[0] : type;
    });
    stream.on("data", (chunk: Uint8Array) => chunks.push(new Uint8Array(chunk)));
    stream.on("end", () => {
      clearTimeout(timer);
      resolve({ status, contentType, body: new Uint8Array(Buffer.concat(chunks)) });
    });
    stream.on("error", (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (get) stream.end();
    else stream.end(message);
  });
}

/** An HTTP/2 session to the DoH port, connected (bounded). */
function dohSession(peer: UnboundPeer, ca: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${peer.httpsPort}`, { ca, servername: "localhost" });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no HTTP/2 session within ${WAIT_MS} ms`));
    }, WAIT_MS);
    session.once("connect", () => {
      clearTimeout(timer);
      resolve(session);
    });
    session.once("error", (error: Error) => {
      clearTimeout(timer);
      session.destroy();
      reject(error);
    });
  });
}

function closeSession(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (session.closed || session.destroyed) return resolve();
    const timer = setTimeout(() => {
      session.destroy();
      resolve();
    }, WAIT_MS);
    session.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe("unbound peer (self-check)", () => {
  let certs: TestCertificates;
  let peer: UnboundPeer;

  before(async () => {
    certs = await testCertificates();
    peer = await startUnbound({ cert: certs.server.cert, key: certs.server.key });
  });

  after(async () => {
    await peer?.stop();
  });

  it("runs on three distinct loopback ports with the zone's names", () => {
    assert.equal(peer.host, "127.0.0.1");
    assert.equal(new Set([peer.port, peer.tlsPort, peer.httpsPort]).size, 3);
    assert.equal(peer.path, "/dns-query");
    assert.equal(peer.zone, "unisock.test");
    assert.doesNotMatch(peer.config, /forward-zone|stub-zone|control-enable: yes/);
  });

  it("plain DNS over UDP: A, AAAA, both, CNAME and NODATA", async () => {
    const a = decode(await askUdp(peer.port, query(0x1001, "a.unisock.test")));
    assert.equal(a.id, 0x1001);
    assert.equal(a.rcode, "NOERROR");
    assert.deepEqual(data(a, "A"), ["203.0.113.1"]);

    const v6 = decode(await askUdp(peer.port, query(0x1002, "v6.unisock.test", "AAAA")));
    assert.deepEqual(data(v6, "AAAA"), ["2001:db8::1"]);

    const bothA = decode(await askUdp(peer.port, query(0x1003, "both.unisock.test", "A")));
    const bothAaaa = decode(await askUdp(peer.port, query(0x1004, "both.unisock.test", "AAAA")));
    assert.deepEqual(data(bothA, "A"), ["203.0.113.2"]);
    assert.deepEqual(data(bothAaaa, "AAAA"), ["2001:db8::2"]);

    const alias = decode(await askUdp(peer.port, query(0x1005, "alias.unisock.test")));
    assert.equal(alias.rcode, "NOERROR");
    assert.deepEqual(data(alias, "CNAME"), ["a.unisock.test"]);
    assert.deepEqual(data(alias, "A"), ["203.0.113.1"]);

    const nodata = decode(await askUdp(peer.port, query(0x1006, "a.unisock.test", "AAAA")));
    assert.equal(nodata.rcode, "NOERROR");
    assert.deepEqual(nodata.answers, []);
    assert.deepEqual((nodata.authorities ?? []).map((record) => record.type), ["SOA"]);

    const missing = decode(await askUdp(peer.port, query(0x1007, "nope.unisock.test")));
    assert.equal(missing.rcode, "NXDOMAIN");
    assert.deepEqual((missing.authorities ?? []).map((record) => record.type), ["SOA"]);
    assert.equal(missing.flag_aa, true);
  });

  it("a name outside the zone: NXDOMAIN or REFUSED at once, nothing forwarded", async () => {
    const started = Date.now();
    const reply = decode(await askUdp(peer.port, query(0x2001, "example.com")));
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    assert.ok(reply.rcode === "NXDOMAIN" || reply.rcode === "REFUSED", `rcode ${reply.rcode}`);
    assert.deepEqual(reply.answers, []);
  });

  it("plain DNS over TCP: 200 names written at once on one connection", async () => {
    const names = Array.from({ length: 200 }, (_, i) => `n${i}.unisock.test`);
    const replies = (await askStream(peer.port, names.map((name, i) => query(i, name)))).map(decode);
    assert.equal(replies.length, 200);
    const byId = new Map(replies.map((reply) => [reply.id, reply]));
    for (let i = 0; i < 200; i++) assert.deepEqual(data(byId.get(i)!, "A"), [`198.51.100.${i + 1}`], names[i]);
  });

  it("many.unisock.test is truncated over UDP and whole over TCP", async () => {
    const udp = decode(await askUdp(peer.port, query(0x3001, "many.unisock.test")));
    assert.equal(udp.flag_tc, true);
    const [tcpBytes] = await askStream(peer.port, [query(0x3002, "many.unisock.test")]);
    assert.equal(data(decode(tcpBytes!), "A").length, 100);
  });

  it("DNS over TLS (node:tls, trusted through the test CA): several queries on one connection", async () => {
    const replies = (await askStream(peer.tlsPort, [
      query(0x4001, "a.unisock.test"),
      query(0x4002, "v6.unisock.test", "AAAA"),
      query(0x4003, "example.com"),
    ], certs.ca.cert)).map(decode);
    const byId = new Map(replies.map((reply) => [reply.id, reply]));
    assert.deepEqual(data(byId.get(0x4001)!, "A"), ["203.0.113.1"]);
    assert.deepEqual(data(byId.get(0x4002)!, "AAAA"), ["2001:db8::1"]);
    assert.ok(["NXDOMAIN", "REFUSED"].includes(byId.get(0x4003)!.rcode!));
  });

  it("DNS over TLS refuses a client that does not trust the certificate", async () => {
    await assert.rejects(askStream(peer.tlsPort, [query(0x4101, "a.unisock.test")], certs.untrustedCa.cert));
  });

  it("DNS over HTTPS (node:http2): POST and GET answer with 200 application/dns-message", async () => {
    const session = await dohSession(peer, certs.ca.cert);
    try {
      assert.equal(session.alpnProtocol, "h2");
      const post = await askDoh(session, peer.path, query(0, "a.unisock.test"));
      assert.equal(post.status, 200);
      assert.equal(post.contentType, "application/dns-message");
      assert.deepEqual(data(decode(post.body), "A"), ["203.0.113.1"]);

      const get = await askDoh(session, peer.path, query(0, "v6.unisock.test", "AAAA"), true);
      assert.equal(get.status, 200);
      assert.deepEqual(data(decode(get.body), "AAAA"), ["2001:db8::1"]);

      const outside = await askDoh(session, peer.path, query(0, "example.com"));
      assert.equal(outside.status, 200);
      assert.ok(["NXDOMAIN", "REFUSED"].includes(decode(outside.body).rcode!));
    } finally {
      await closeSession(session);
    }
  });

  it("DNS over HTTPS: 50 POSTs at once on one HTTP/2 connection", async () => {
    const session = await dohSession(peer, certs.ca.cert);
    try {
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, i) => askDoh(session, peer.path, query(0, `n${i}.unisock.test`))),
      );
      replies.forEach((reply, i) => {
        assert.equal(reply.status, 200);
        assert.deepEqual(data(decode(reply.body), "A"), [`198.51.100.${i + 1}`]);
      });
    } finally {
      await closeSession(session);
    }
  });

  // Last: it stops the peer, whose closing stats count what went to the iterator.
  it("sent no query anywhere: 0 recursions when stopped", async () => {
    await peer.stop();
    assert.match(peer.output(), /server stats for thread 0: \d+ queries, \d+ answers from cache, 0 recursions/);
  });
});
