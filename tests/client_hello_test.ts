/**
 * The ClientHello parser of node/client_hello.ts (the server name read before TLS starts,
 * for SNI over a Duplex): real ClientHellos captured from this runtime's `node:tls`,
 * hand-built ones for the corners, and truncated or garbage bytes, which give undefined
 * and never throw. Also `rawDuplex`'s prefix: the bytes read first come out first.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import nodeNet from "node:net";
import nodeTls from "node:tls";
import { describe, it } from "node:test";
import type { IpSocketAddress } from "../core/address.ts";
import type { RawConnection } from "../core/driver.ts";
import { clientHelloRecordSize, clientHelloServerName } from "../node/client_hello.ts";
import { rawDuplex } from "../node/raw_duplex.ts";

/** The first TLS record a `node:tls` client sends, recorded by a plain TCP server. */
async function captureClientHello(servername: string | undefined): Promise<Uint8Array> {
  const server = nodeNet.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as nodeNet.AddressInfo;
  const captured = new Promise<Uint8Array>((resolve, reject) => {
    server.once("connection", (socket: nodeNet.Socket) => {
      let received = new Uint8Array(0);
      socket.on("error", () => {});
      socket.on("data", (chunk: Uint8Array) => {
        const whole = new Uint8Array(received.length + chunk.length);
        whole.set(received);
        whole.set(chunk, received.length);
        received = whole;
        if (received.length < 5) return;
        const size = clientHelloRecordSize(received);
        if (size === undefined) reject(new Error(`not a TLS handshake record: ${Array.from(received.subarray(0, 5)).join(",")}`));
        else if (received.length >= size) resolve(received.subarray(0, size));
        else return;
        socket.destroy();
      });
      socket.on("end", () => reject(new Error("the client closed before its ClientHello was whole")));
    });
  });
  const client = nodeTls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false });
  client.on("error", () => {});
  try {
    return await captured;
  } finally {
    client.destroy();
    server.close();
    await once(server, "close");
  }
}

const u16 = (value: number): number[] => [value >> 8, value & 0xff];
const u24 = (value: number): number[] => [value >> 16, (value >> 8) & 0xff, value & 0xff];
const ascii = (text: string): number[] => Array.from(text, (c) => c.charCodeAt(0));

/** A `server_name` extension with these entries (type, name bytes). */
function serverNameExtension(entries: [number, number[]][]): number[] {
  const list = entries.flatMap(([type, name]) => [type, ...u16(name.length), ...name]);
  const data = [...u16(list.length), ...list];
  return [...u16(0), ...u16(data.length), ...data];
}

/** A ClientHello with these extensions (each whole, type and length included), in one record. */
function clientHello(extensions: number[], { sessionId = 32, recordType = 22, handshakeType = 1 } = {}): Uint8Array {
  const body = [
    3, 3, // legacy_version
    ...new Array<number>(32).fill(7), // random
    sessionId, ...new Array<number>(sessionId).fill(9),
    ...u16(4), 0x13, 0x01, 0x13, 0x02, // cipher suites
    1, 0, // compression: null
    ...u16(extensions.length), ...extensions,
  ];
  const handshake = [handshakeType, ...u24(body.length), ...body];
  return Uint8Array.from([recordType, 3, 1, ...u16(handshake.length), ...handshake]);
}

/** An extension that is not server_name. */
const OTHER_EXTENSION = [...u16(43), ...u16(3), 2, 3, 4]; // supported_versions: TLS 1.3

describe("clientHelloServerName", () => {
  it("reads the name from a real ClientHello of node:tls", async () => {
    const hello = await captureClientHello("other.test");
    assert.equal(clientHelloRecordSize(hello), hello.length);
    assert.equal(clientHelloServerName(hello), "other.test");
  });

  it("a real ClientHello without SNI (servername \"\") has no name", async () => {
    const hello = await captureClientHello("");
    assert.equal(clientHelloRecordSize(hello), hello.length);
    assert.equal(clientHelloServerName(hello), undefined);
  });

  it("ignores the bytes after the record (the rest of the stream)", async () => {
    const hello = await captureClientHello("localhost");
    const more = new Uint8Array(hello.length + 100).fill(0xff);
    more.set(hello);
    assert.equal(clientHelloServerName(more), "localhost");
  });

  it("every truncation of a real ClientHello is undefined, not a throw", async () => {
    const hello = await captureClientHello("other.test");
    for (let length = 0; length < hello.length; length++) {
      assert.equal(clientHelloServerName(hello.subarray(0, length)), undefined, `truncated at ${length}`);
    }
    for (let length = 0; length < 5; length++) assert.equal(clientHelloRecordSize(hello.subarray(0, length)), undefined);
  });

  it("every single-byte change of a real ClientHello gives a string or undefined, never a throw", async () => {
    const hello = await captureClientHello("other.test");
    for (let i = 0; i < hello.length; i++) {
      for (const value of [0x00, 0x01, 0x7f, 0xff]) {
        const changed = hello.slice();
        changed[i] = value;
        const name = clientHelloServerName(changed);
        assert.ok(name === undefined || typeof name === "string", `byte ${i} = ${value}`);
      }
    }
  });

  it("garbage: empty, plaintext, other record types, bad versions and lengths, random bytes", () => {
    const cases: [string, Uint8Array][] = [
      ["empty", new Uint8Array(0)],
      ["a STARTTLS line", new TextEncoder().encode("STARTTLS\r\n")],
      ["an HTTP request", new TextEncoder().encode("GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")],
      ["application data record", clientHello(serverNameExtension([[0, ascii("other.test")]]), { recordType: 23 })],
      ["a ServerHello", clientHello(serverNameExtension([[0, ascii("other.test")]]), { handshakeType: 2 })],
      ["major version 2", Uint8Array.from([22, 2, 0, 0, 4, 1, 0, 0, 0])],
      ["empty record", Uint8Array.from([22, 3, 1, 0, 0])],
      ["oversized record", Uint8Array.from([22, 3, 1, 0x40, 0x01, ...new Array<number>(0x4001).fill(0)])],
      ["header only", Uint8Array.from([22, 3, 1, 0, 4])],
      ["zero-filled handshake", Uint8Array.from([22, 3, 1, 0, 4, 0, 0, 0, 0])],
      ["handshake length past everything", Uint8Array.from([22, 3, 1, 0, 8, 1, 0xff, 0xff, 0xff, 3, 3, 0, 0])],
    ];
    for (const [what, bytes] of cases) assert.equal(clientHelloServerName(bytes), undefined, what);
    assert.equal(clientHelloRecordSize(cases[2][1]), undefined);
    assert.equal(clientHelloRecordSize(Uint8Array.from([22, 3, 1, 0x40, 0x01])), undefined, "over 16 KiB");
    assert.equal(clientHelloRecordSize(Uint8Array.from([22, 3, 1, 0x40, 0x00])), 16 * 1024 + 5, "16 KiB");
    let seed = 1;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let round = 0; round < 2000; round++) {
      const bytes = Uint8Array.from({ length: random() + random() }, random);
      if (round % 2 === 0 && bytes.length >= 6) bytes.set([22, 3, 1, 0, bytes.length - 5, 1]);
      const name = clientHelloServerName(bytes);
      assert.ok(name === undefined || typeof name === "string");
    }
  });

  it("hand-built: the name after another extension, after a non-host_name entry, with no session id", () => {
    const name = ascii("Other.Test.");
    assert.equal(clientHelloServerName(clientHello([...OTHER_EXTENSION, ...serverNameExtension([[0, name]])])), "Other.Test.");
    assert.equal(clientHelloServerName(clientHello(serverNameExtension([[1, ascii("x")], [0, name]]))), "Other.Test.");
    assert.equal(clientHelloServerName(clientHello(serverNameExtension([[0, name]]), { sessionId: 0 })), "Other.Test.");
  });

  it("hand-built: no extensions, no server_name, an empty or non-ASCII name, lengths that overrun, are undefined", () => {
    assert.equal(clientHelloServerName(clientHello([])), undefined, "no extensions");
    assert.equal(clientHelloServerName(clientHello(OTHER_EXTENSION)), undefined, "no server_name");
    assert.equal(clientHelloServerName(clientHello(serverNameExtension([]))), undefined, "an empty list");
    assert.equal(clientHelloServerName(clientHello(serverNameExtension([[1, ascii("x")]]))), undefined, "no host_name entry");
    assert.equal(clientHelloServerName(clientHello(serverNameExtension([[0, []]]))), undefined, "an empty name");
    assert.equal(clientHelloServerName(clientHello(serverNameExtension([[0, [0x61, 0x00, 0x62]]]))), undefined, "a NUL in the name");
    assert.equal(clientHelloServerName(clientHello(serverNameExtension([[0, [0xc3, 0xa9, 0x2e, 0x74]]]))), undefined, "non-ASCII");
    assert.equal(clientHelloServerName(clientHello(serverNameExtension([[0, ascii("a b")]]))), undefined, "a space");
    // The extension's length says more than its data holds.
    const overrun = serverNameExtension([[0, ascii("other.test")]]);
    overrun[3] += 10;
    assert.equal(clientHelloServerName(clientHello(overrun)), undefined, "an extension past its list");
    // The entry's length says more than the list holds.
    const entry = serverNameExtension([[0, ascii("other.test")]]);
    entry[8] += 1;
    assert.equal(clientHelloServerName(clientHello(entry)), undefined, "an entry past its list");
  });

  it("a ClientHello split over two records: the name in the first is read", () => {
    const whole = clientHello([...serverNameExtension([[0, ascii("other.test")]]), ...OTHER_EXTENSION, ...new Array<number>(40).fill(0)]);
    const handshake = whole.subarray(5);
    const first = handshake.subarray(0, handshake.length - 30);
    const record = Uint8Array.from([22, 3, 1, ...u16(first.length), ...first]);
    assert.equal(clientHelloServerName(record), "other.test");
    // And one cut before the name is whole: undefined.
    const early = handshake.subarray(0, 4 + 2 + 32 + 33 + 2 + 4 + 2 + 2 + 6);
    assert.equal(clientHelloServerName(Uint8Array.from([22, 3, 1, ...u16(early.length), ...early])), undefined);
  });
});

describe("rawDuplex prefix", () => {
  it("gives the prefix first, then the connection's bytes, then the end", async () => {
    const incoming: (Uint8Array | null)[] = [Uint8Array.from([4, 5]), Uint8Array.from([6]), null];
    let reads = 0;
    const raw: RawConnection<IpSocketAddress> = {
      localAddress: { address: "127.0.0.1", port: 1, family: "ipv4" } as IpSocketAddress,
      remoteAddress: { address: "127.0.0.1", port: 2, family: "ipv4" } as IpSocketAddress,
      read: () => Promise.reject(new Error("readChunk is there")),
      readChunk: () => {
        reads++;
        return Promise.resolve(incoming.shift() ?? null);
      },
      write: () => undefined,
      closeWrite: () => Promise.resolve(),
      close: () => {},
      setNoDelay: () => {},
      setKeepAlive: () => {},
      closed: Promise.resolve(),
      reading: () => false,
    };
    const duplex = rawDuplex(raw, [Uint8Array.from([1, 2]), new Uint8Array(0), Uint8Array.from([3])]);
    const received: number[] = [];
    for await (const chunk of duplex) received.push(...(chunk as Uint8Array));
    assert.deepEqual(received, [1, 2, 3, 4, 5, 6]);
    assert.equal(reads, 3);
    duplex.destroy();
  });
});
