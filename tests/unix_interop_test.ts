import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Connection } from "../core/connection.ts";
import { drain, networks, sendPattern } from "./helpers.ts";
import { abstractName, readText, requireTools, runChild, runtimeCommand, startChild, withTempDir } from "./unix_helpers.ts";

const MiB = 1024 * 1024;
const encode = (text: string) => new TextEncoder().encode(text);
const CONNECT_PEER = fileURLToPath(new URL("./peers/unix_connect.ts", import.meta.url));

/** Reads an HTTP/1.1 request head (up to the blank line). */
async function readHead(conn: Connection): Promise<string> {
  const buffer = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const count = await conn.read(buffer);
    if (count === null) break;
    head += new TextDecoder().decode(buffer.subarray(0, count));
  }
  return head;
}

/** Every directory from `/` down to `file`'s must let others in, and `file` be readable by them. */
function assertReadableByOthers(file: string): void {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    assert.ok((fs.statSync(dir).mode & 0o001) !== 0, `${dir} must be searchable by others (o+x) for the nobody child`);
  }
  assert.ok((fs.statSync(file).mode & 0o004) !== 0, `${file} must be readable by others (o+r)`);
}

for (const { name, net, driver } of networks()) {
  describe(`unix interop with real peers (${name} driver)`, () => {
    it("curl --unix-socket gets an answer from an HTTP/1.1 responder on unix.listen", () =>
      withTempDir(async (dir) => {
        requireTools(["curl"]);
        const file = `${dir}/http.sock`;
        const listener = await net.unix.listen(file, { mode: 0o600 });
        const heads: string[] = [];
        const serving = (async () => {
          for await (const conn of listener) {
            const head = await readHead(conn);
            heads.push(head);
            const body = `hello from unisock over ${name}\n`;
            await conn.write(encode(
              `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${encode(body).length}\r\nConnection: close\r\n\r\n${body}`,
            ));
            await conn.closeWrite();
            conn.close();
          }
        })();
        try {
          const result = await runChild("curl", ["--silent", "--show-error", "--max-time", "10", "--unix-socket", file, "http://localhost/hello"]);
          assert.equal(result.code, 0, result.stderr);
          assert.equal(result.stdout, `hello from unisock over ${name}\n`);
          assert.equal(heads.length, 1);
          assert.match(heads[0], /^GET \/hello HTTP\/1\.1\r\n/);
          assert.match(heads[0], /\r\nHost: localhost\r\n/i);
        } finally {
          listener.close();
          await serving;
        }
      }));

    it("socat relays 16 MiB each way between a unisock TCP connection and a unisock Unix connection", () =>
      withTempDir(async (dir) => {
        requireTools(["socat"]);
        const file = `${dir}/relay.sock`;
        await using tcpListener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
        await using unixListener = await net.unix.listen(file);
        const tcpAccepted = tcpListener.accept();
        const unixAccepted = unixListener.accept();
        // socat dials both of our listeners and copies bytes between them; -t 30 lets the
        // other direction finish after one side's end of stream.
        const socat = startChild("socat", ["-t", "30", `TCP:127.0.0.1:${tcpListener.localAddress.port}`, `UNIX-CONNECT:${file}`]);
        try {
          await using tcpSide = await tcpAccepted;
          await using unixSide = await unixAccepted;
          const intoUnix = drain(unixSide);
          const intoTcp = drain(tcpSide);
          const [sentFromTcp, sentFromUnix] = await Promise.all([
            sendPattern(tcpSide, 16 * MiB, 60 * 1024 + 1, 11).then(async (hash) => (await tcpSide.closeWrite(), hash)),
            sendPattern(unixSide, 16 * MiB, 48 * 1024 + 5, 23).then(async (hash) => (await unixSide.closeWrite(), hash)),
          ]);
          const [gotByUnix, gotByTcp] = await Promise.all([intoUnix, intoTcp]);
          assert.equal(gotByUnix.bytes, 16 * MiB);
          assert.equal(gotByUnix.sha256, sentFromTcp);
          assert.equal(gotByTcp.bytes, 16 * MiB);
          assert.equal(gotByTcp.sha256, sentFromUnix);
          const result = await socat.done;
          assert.equal(result.code, 0, result.stderr);
        } finally {
          socat.kill();
          await socat.done.catch(() => {});
        }
      }));

    if (driver.unixAbstract) {
      it("socat reaches an abstract listener, and unix.connect reaches socat's (same name, same length)", async () => {
        requireTools(["socat"]);
        const ours = abstractName("socat-in");
        await using listener = await net.unix.listen(ours);
        const accepted = listener.accept().then(async (conn) => {
          await conn.write(encode("from unisock\n"));
          await conn.closeWrite();
          const text = await readText(conn);
          conn.close();
          return text;
        });
        const client = await runChild("sh", ["-c", `printf 'from socat' | socat -t 5 - ABSTRACT-CONNECT:${ours.slice(1)}`]);
        assert.equal(client.code, 0, client.stderr);
        assert.equal(client.stdout, "from unisock\n");
        assert.equal(await accepted, "from socat");

        const theirs = abstractName("socat-out");
        const server = startChild("socat", [`ABSTRACT-LISTEN:${theirs.slice(1)}`, "SYSTEM:echo from socat"]);
        try {
          let conn: Connection | undefined;
          for (let attempt = 0; conn === undefined; attempt++) {
            try {
              conn = await net.unix.connect(theirs);
            } catch (error) {
              if (attempt > 200) throw error;
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
          }
          assert.equal(await readText(conn), "from socat\n");
          conn.close();
        } finally {
          server.kill();
          await server.done;
        }
      });
    }

    it("mode 0o600 keeps another user out (access-denied); mode 0o666 lets the same child in", () =>
      withTempDir(async (dir) => {
        requireTools(["setpriv"]);
        assertReadableByOthers(CONNECT_PEER);
        const [runtime, args] = runtimeCommand(CONNECT_PEER);
        // Deno keeps a cache; nobody needs one it may write to.
        const cache = `${dir}/deno-dir`;
        fs.mkdirSync(cache, { mode: 0o777 });
        fs.chmodSync(cache, 0o777);
        const env = { ...process.env, DENO_DIR: cache, HOME: dir, NO_COLOR: "1" } as Record<string, string>;
        const asNobody = (file: string) =>
          runChild("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", runtime, ...args, file, name], env);

        const closed = `${dir}/private.sock`;
        await using privateListener = await net.unix.listen(closed, { mode: 0o600 });
        const denied = await asNobody(closed);
        assert.equal(denied.code, 0, denied.stderr);
        assert.equal(denied.stdout.trim(), "uid=65534 access-denied", denied.stderr);

        const open = `${dir}/public.sock`;
        await using publicListener = await net.unix.listen(open, { mode: 0o666 });
        const accepted = publicListener.accept();
        const allowed = await asNobody(open);
        assert.equal(allowed.code, 0, allowed.stderr);
        assert.equal(allowed.stdout.trim(), "uid=65534 connected", allowed.stderr);
        (await accepted).close();
        assert.equal(privateListener.localAddress.path, closed);
      }));
  });
}
