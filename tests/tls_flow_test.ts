/**
 * Flow control under TLS: a writer to a reader that does not read waits (each way), memory
 * stays bounded, and once the reader reads every byte arrives, in order, with the end of
 * stream behind it. On Deno this is the path where flow control stops the TCP handle under
 * Deno's TLS (pausing Deno's TLS socket would lose the end of stream: docs/tls.md).
 * Every test runs on every driver this runtime can load.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import type { Connection } from "../core/connection.ts";
import { drain, networks, patternBytes, portOf, within } from "./helpers.ts";
import { testCertificates } from "./peers/certs.ts";

const MiB = 1024 * 1024;
const TOTAL = 96 * MiB;

/** Resolves with "stalled" when `work` has not settled for `ms`. */
function stalledFor(work: Promise<unknown>, ms: number): Promise<"settled" | "stalled"> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("stalled"), ms);
    const settled = (): void => {
      clearTimeout(timer);
      resolve("settled");
    };
    work.then(settled, settled);
  });
}

/**
 * Writes TOTAL bytes to `writer` (then its end) while `reader` reads nothing; checks that the
 * writer stops well short of TOTAL, then reads it all and checks the bytes and their end.
 */
async function stallThenDrain(writer: Connection, reader: Connection): Promise<void> {
  const chunk = patternBytes(MiB, 21);
  const hash = createHash("sha256");
  let written = 0;
  const writing = (async () => {
    while (written < TOTAL) {
      await writer.write(chunk);
      hash.update(chunk);
      written += chunk.length;
    }
    await writer.closeWrite();
  })();
  writing.catch(() => {});
  // Wait until the writer has been stuck on one write for a while: the reader is not reading.
  let progress = -1;
  for (let round = 0; round < 50 && progress !== written; round++) {
    progress = written;
    if (await stalledFor(writing, 300) === "settled") break;
  }
  assert.equal(progress, written, "the writer stopped making progress");
  assert.ok(written < 48 * MiB, `the writer got ${written / MiB} MiB ahead of a reader that reads nothing`);
  // Now read it all: every byte arrives, then the end of stream, and the writer finishes.
  const received = await within(drain(reader), "reading it all to the end", 60_000);
  await within(writing, "the writer finishing");
  assert.equal(received.bytes, TOTAL);
  assert.equal(received.sha256, hash.digest("hex"));
}

for (const { name, net } of networks()) {
  describe(`TLS flow control (${name} driver)`, () => {
    async function pair(): Promise<{ client: Connection; server: Connection; close(): void }> {
      const { ca, server: serverCert } = await testCertificates();
      const listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0, tls: { cert: serverCert.cert, key: serverCert.key } });
      try {
        const accepted = listener.accept();
        const client = await within(net.tcp.connect({ hostname: "localhost", port: portOf(listener) }, { tls: { ca: ca.cert } }), "connect");
        const server = await within(accepted, "accept");
        return {
          client,
          server,
          close: () => {
            client.close();
            server.close();
            listener.close();
          },
        };
      } catch (error) {
        listener.close();
        throw error;
      }
    }

    it("a server writing to a client that does not read waits; then the client reads every byte and the end", async () => {
      const { client, server, close } = await pair();
      try {
        await stallThenDrain(server, client);
      } finally {
        close();
      }
    });

    it("a client writing to a server that does not read waits; then the server reads every byte and the end", async () => {
      const { client, server, close } = await pair();
      try {
        await stallThenDrain(client, server);
      } finally {
        close();
      }
    });
  });
}
