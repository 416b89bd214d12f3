import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import type { AccessRequest } from "../network/policy.ts";
import { Network } from "../network/network.ts";
import { drain, networks, rejectsWith, sendPattern } from "./helpers.ts";
import {
  abstractName,
  makeStaleSocket,
  readText,
  serveEcho,
  startChild,
  withTempDir,
} from "./unix_helpers.ts";

type Loose = never;

const MiB = 1024 * 1024;
const encode = (text: string) => new TextEncoder().encode(text);

/** A path of exactly `bytes` UTF-8 bytes inside `dir`. */
function pathOfBytes(dir: string, bytes: number, filler = "s"): string {
  const room = bytes - dir.length - 1;
  const fillerBytes = encode(filler).length;
  const name = filler.repeat(Math.floor(room / fillerBytes)) + "s".repeat(room % fillerBytes);
  const result = `${dir}/${name}`;
  assert.equal(encode(result).length, bytes);
  return result;
}

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

for (const { name, net, driver } of networks()) {
  describe(`unix sockets (${name} driver)`, () => {
    it("echoes 16 MiB with the same sha256 both ways", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/echo.sock`;
        const listener = await net.unix.listen(file);
        const served = serveEcho(listener);
        try {
          await using conn = await net.unix.connect(file);
          const received = drain(conn);
          const sent = await sendPattern(conn, 16 * MiB, 64 * 1024 + 3, 7);
          await conn.closeWrite();
          const back = await received;
          assert.equal(back.bytes, 16 * MiB);
          assert.equal(back.sha256, sent);
        } finally {
          listener.close();
          await served;
        }
      }));

    it("half-closes: the peer reads to end of stream, then still answers", () =>
      withTempDir(async (dir) => {
        await using listener = await net.unix.listen(`${dir}/half.sock`);
        const accepted = listener.accept();
        await using client = await net.unix.connect(`${dir}/half.sock`);
        await using server = await accepted;
        await client.write(encode("question"));
        await client.closeWrite();
        assert.equal(await readText(server), "question");
        await rejectsWith(client.write(encode("more")), "invalid-state");
        await server.write(encode("answer after the FIN"));
        await server.closeWrite();
        assert.equal(await readText(client), "answer after the FIN");
      }));

    it("reports { path } addresses: the listener's path, and \"\" for the unnamed connecting end", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/addr.sock`;
        await using listener = await net.unix.listen(file);
        assert.deepEqual(listener.localAddress, { path: file });
        const accepted = listener.accept();
        await using client = await net.unix.connect(file);
        await using server = await accepted;
        assert.deepEqual(client.remoteAddress, { path: file });
        assert.deepEqual(client.localAddress, { path: "" });
        assert.deepEqual(server.localAddress, { path: file });
        assert.deepEqual(server.remoteAddress, { path: "" });
      }));

    it("serves connections through async iteration of the listener", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/iter.sock`;
        const listener = await net.unix.listen(file);
        let served = 0;
        const serving = (async () => {
          for await (const conn of listener) {
            served++;
            await conn.write(encode(`hello ${served}`));
            conn.close();
            if (served === 3) listener.close();
          }
        })();
        for (let i = 1; i <= 3; i++) {
          await using conn = await net.unix.connect(file);
          assert.equal(await readText(conn), `hello ${i}`);
        }
        await serving;
        assert.equal(served, 3);
        await rejectsWith(listener.accept(), "invalid-state");
      }));

    it("moves bytes through the readable and writable web streams", () =>
      withTempDir(async (dir) => {
        const listener = await net.unix.listen(`${dir}/streams.sock`);
        const served = serveEcho(listener);
        try {
          const conn = await net.unix.connect(`${dir}/streams.sock`);
          const message = "streams ".repeat(20_000);
          const writing = new Blob([message]).stream().pipeTo(conn.writable);
          assert.equal(await new Response(conn.readable).text(), message);
          await writing;
          conn.close();
        } finally {
          listener.close();
          await served;
        }
      }));

    it("`await using` closes the connection and the listener, and removes the file", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/using.sock`;
        let peerSawEnd: Promise<string>;
        {
          await using listener = await net.unix.listen(file);
          const accepted = listener.accept();
          {
            await using client = await net.unix.connect(file);
            const server = await accepted;
            peerSawEnd = readText(server).finally(() => server.close());
            await client.write(encode("bye"));
          }
          assert.equal(await peerSawEnd, "bye");
          assert.ok(fs.existsSync(file));
        }
        assert.equal(fs.existsSync(file), false);
      }));

    it("removes the socket file on close(), and only then", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/remove.sock`;
        const listener = await net.unix.listen(file);
        assert.ok(fs.lstatSync(file).isSocket());
        listener.close();
        assert.equal(fs.existsSync(file), false);
        listener.close();
        await rejectsWith(net.unix.connect(file), "connection-refused");
      }));

    for (const mode of [0o660, 0o600, 0o666]) {
      it(`applies mode 0o${mode.toString(8)} to the socket file before listen resolves`, () =>
        withTempDir(async (dir) => {
          const file = `${dir}/mode.sock`;
          await using listener = await net.unix.listen(file, { mode });
          assert.equal(modeOf(file).toString(8), mode.toString(8));
          await using _conn = await net.unix.connect(file);
          assert.equal(listener.localAddress.path, file);
        }));
    }

    it("binds synchronously, and the file never has a bit outside mode, from the bind on", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/early.sock`;
        const seen: (number | undefined)[] = [];
        const watching = new Network({
          ...driver,
          unixListen(request) {
            const listening = driver.unixListen(request);
            seen.push(fs.existsSync(file) ? modeOf(file) : undefined);
            return listening;
          },
        }, { check: () => undefined });
        for (const mode of [0o660, 0o600, 0o606]) {
          seen.length = 0;
          const listener = await watching.unix.listen(file, { mode });
          listener.close();
          assert.equal(seen.length, 1);
          assert.notEqual(seen[0], undefined, "the socket file exists as soon as the driver's listen call returns");
          assert.equal((seen[0] as number) & ~mode, 0, `0o${seen[0]?.toString(8)} at bind time is within 0o${mode.toString(8)}`);
        }
      }));

    it("leaves the process umask as it was", () =>
      withTempDir(async (dir) => {
        const before = process.umask(0o022);
        process.umask(before);
        await using _listener = await net.unix.listen(`${dir}/umask.sock`, { mode: 0o600 });
        const after = process.umask(before);
        assert.equal(after, before);
      }));

    it("replaces a stale socket file that nobody listens on", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/stale.sock`;
        makeStaleSocket(file);
        assert.ok(fs.lstatSync(file).isSocket(), "python left a socket file behind");
        await rejectsWith(net.unix.connect(file), "connection-refused");
        await using listener = await net.unix.listen(file, { mode: 0o600 });
        assert.equal(modeOf(file), 0o600);
        const accepted = listener.accept();
        await using client = await net.unix.connect(file);
        await using server = await accepted;
        await client.write(encode("fresh"));
        await client.closeWrite();
        assert.equal(await readText(server), "fresh");
      }));

    it("a live socket is address-in-use, and keeps working", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/live.sock`;
        await using listener = await net.unix.listen(file);
        const served = serveEcho(listener);
        const error = await rejectsWith(net.unix.listen(file), "address-in-use");
        assert.match(error.message, /^unix\.listen /);
        assert.ok(fs.lstatSync(file).isSocket());
        await using conn = await net.unix.connect(file);
        await conn.write(encode("still here"));
        await conn.closeWrite();
        assert.equal(await readText(conn), "still here");
        listener.close();
        await served;
      }));

    it("a regular file or a directory at the path is address-in-use, and is left untouched", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/regular`;
        fs.writeFileSync(file, "precious data");
        fs.chmodSync(file, 0o640);
        await rejectsWith(net.unix.listen(file), "address-in-use");
        await rejectsWith(net.unix.listen(file, { mode: 0o600 }), "address-in-use");
        assert.equal(fs.readFileSync(file, "utf8"), "precious data");
        assert.equal(modeOf(file), 0o640);
        fs.mkdirSync(`${dir}/directory`);
        await rejectsWith(net.unix.listen(`${dir}/directory`), "address-in-use");
        assert.ok(fs.statSync(`${dir}/directory`).isDirectory());
      }));

    it("a path of 108 bytes is invalid-argument; 107 bytes works", () =>
      withTempDir(async (dir) => {
        const longest = pathOfBytes(dir, 107);
        const tooLong = pathOfBytes(dir, 108);
        await rejectsWith(net.unix.listen(tooLong), "invalid-argument");
        await rejectsWith(net.unix.connect(tooLong), "invalid-argument");
        assert.equal(fs.existsSync(tooLong), false);
        await using listener = await net.unix.listen(longest);
        const accepted = listener.accept();
        await using client = await net.unix.connect(longest);
        await using server = await accepted;
        await client.write(encode("107"));
        const buffer = new Uint8Array(3);
        assert.equal(await server.read(buffer), 3);
      }));

    it("counts the path's length in UTF-8 bytes, not characters", () =>
      withTempDir(async (dir) => {
        const tooLong = pathOfBytes(dir, 108, "é");
        assert.ok(tooLong.length < 108, "fewer characters than bytes");
        const error = await rejectsWith(net.unix.listen(tooLong), "invalid-argument");
        assert.match(error.message, /108 bytes/);
        await using listener = await net.unix.listen(pathOfBytes(dir, 107, "é"));
        assert.ok(fs.lstatSync(listener.localAddress.path).isSocket());
      }));

    if (driver.unixAbstract) {
      it("listens and connects on an abstract name, with no file", async () => {
        const abstract = abstractName("abs");
        await using listener = await net.unix.listen(abstract);
        assert.deepEqual(listener.localAddress, { path: abstract });
        const accepted = listener.accept();
        await using client = await net.unix.connect(abstract);
        await using server = await accepted;
        assert.deepEqual(client.remoteAddress, { path: abstract });
        await client.write(encode("abstract"));
        await client.closeWrite();
        assert.equal(await readText(server), "abstract");
        await rejectsWith(net.unix.listen(abstract), "address-in-use");
        assert.ok(fs.readFileSync("/proc/net/unix", "utf8").includes(`@${abstract.slice(1)}`));
      });

      it("an abstract name nobody listens on is connection-refused; one freed by close() can be reused", async () => {
        const abstract = abstractName("gone");
        await rejectsWith(net.unix.connect(abstract), "connection-refused");
        const first = await net.unix.listen(abstract);
        first.close();
        await using second = await net.unix.listen(abstract);
        await using _conn = await net.unix.connect(abstract);
        assert.equal(second.localAddress.path, abstract);
      });

      it("an abstract name takes no mode", async () => {
        await rejectsWith(net.unix.listen(abstractName("mode"), { mode: 0o600 }), "invalid-argument");
      });
    }

    it("abstract names are not-supported where the driver says it cannot take them", async () => {
      const without = new Network({ ...driver, unixAbstract: false }, { check: () => undefined });
      await rejectsWith(without.unix.listen(abstractName("none")), "not-supported");
      await rejectsWith(without.unix.connect(abstractName("none")), "not-supported");
    });

    it("connecting to a missing path, or into a missing directory, is connection-refused", () =>
      withTempDir(async (dir) => {
        const error = await rejectsWith(net.unix.connect(`${dir}/missing.sock`), "connection-refused");
        assert.match(error.message, /^unix\.connect \/tmp\/unisock-.*missing\.sock: /);
        await rejectsWith(net.unix.connect(`${dir}/no/such/dir.sock`), "connection-refused");
      }));

    it("listening in a missing directory is address-not-bindable", () =>
      withTempDir(async (dir) => {
        await rejectsWith(net.unix.listen(`${dir}/no-dir/server.sock`), "address-not-bindable");
      }));

    it("a listener whose queue is full refuses at once (connection-refused)", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/full.sock`;
        // A peer that listens with a backlog of 1 and never accepts.
        const script = "import socket, sys, time\ns = socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\n" +
          "s.listen(1)\nprint('ready', flush=True)\ntime.sleep(60)\n";
        const peer = startChild("python3", ["-c", script, file]);
        const open = [];
        try {
          await peer.ready("ready");
          let refused = false;
          for (let i = 0; i < 10 && !refused; i++) {
            try {
              open.push(await net.unix.connect(file, { timeout: 2000 }));
            } catch (error) {
              await rejectsWith(Promise.reject(error), "connection-refused");
              refused = true;
            }
          }
          assert.ok(refused, "a listener that never accepts fills its queue");
          assert.ok(open.length >= 1, "the first connections were queued");
        } finally {
          for (const conn of open) conn.close();
          peer.kill();
          await peer.done;
        }
      }));

    it(`backlog is ${name === "node" ? "passed on" : "not-supported"}, and checked`, () =>
      withTempDir(async (dir) => {
        const file = `${dir}/backlog.sock`;
        if (name === "node") {
          await using listener = await net.unix.listen(file, { backlog: 4 });
          await using _conn = await net.unix.connect(file);
          assert.equal(listener.localAddress.path, file);
        } else {
          await rejectsWith(net.unix.listen(file, { backlog: 4 }), "not-supported");
          assert.equal(fs.existsSync(file), false);
        }
        for (const backlog of [0, -1, 1.5, "8"]) {
          await rejectsWith(net.unix.listen(file, { backlog } as Loose), "invalid-argument");
        }
      }));

    it("an already aborted signal rejects with its reason before any connect", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/abort.sock`;
        await using listener = await net.unix.listen(file);
        const reason = new Error("already aborted");
        await assert.rejects(net.unix.connect(file, { signal: AbortSignal.abort(reason) }), (error) => error === reason);
        const accepted = listener.accept();
        await using conn = await net.unix.connect(file, { signal: new AbortController().signal, timeout: 5000 });
        await conn.write(encode("first"));
        await conn.closeWrite();
        await using server = await accepted;
        assert.equal(await readText(server), "first", "the aborted attempt never reached the listener");
      }));

    it("timeout: 0 fails with timeout without trying; a timeout not used up leaves the connection alone", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/timeout.sock`;
        await using listener = await net.unix.listen(file);
        const error = await rejectsWith(net.unix.connect(file, { timeout: 0 }), "timeout");
        assert.match(error.message, /timed out after 0 ms/);
        const accepted = listener.accept();
        await using conn = await net.unix.connect(file, { timeout: 50 });
        await conn.write(encode("second"));
        await using server = await accepted;
        const buffer = new Uint8Array(6);
        assert.equal(await server.read(buffer), 6);
        assert.equal(new TextDecoder().decode(buffer), "second", "the timed-out attempt never reached the listener");
        await new Promise((resolve) => setTimeout(resolve, 100));
        await server.write(encode("still"));
        await server.closeWrite();
        assert.equal(await readText(conn), "still");
      }));

    it("setNoDelay and setKeepAlive are not-supported on a Unix socket", () =>
      withTempDir(async (dir) => {
        await using listener = await net.unix.listen(`${dir}/opts.sock`);
        await using conn = await net.unix.connect(`${dir}/opts.sock`);
        await rejectsWith(() => conn.setNoDelay(true), "not-supported");
        await rejectsWith(() => conn.setKeepAlive(true), "not-supported");
        assert.equal(listener.localAddress.path, `${dir}/opts.sock`);
      }));

    const badPaths: [string, unknown][] = [
      ["empty path", ""],
      ["a number", 42],
      ["undefined", undefined],
      ["null", null],
      ["a NUL inside", "/tmp/a\0b.sock"],
      ["a lone NUL", "\0"],
    ];
    for (const [label, value] of badPaths) {
      it(`${label} → invalid-argument for connect and listen`, async () => {
        await rejectsWith(net.unix.connect(value as Loose), "invalid-argument");
        await rejectsWith(net.unix.listen(value as Loose), "invalid-argument");
      });
    }

    const badOptions: [string, "connect" | "listen", unknown][] = [
      ["negative timeout", "connect", { timeout: -1 }],
      ["NaN timeout", "connect", { timeout: Number.NaN }],
      ["timeout as a string", "connect", { timeout: "100" }],
      ["signal not a signal", "connect", { signal: "stop" }],
      ["options not an object", "connect", 5],
      ["mode over 0o777", "listen", { mode: 0o1777 }],
      ["negative mode", "listen", { mode: -1 }],
      ["fractional mode", "listen", { mode: 1.5 }],
      ["mode as a string", "listen", { mode: "660" }],
      ["options not an object", "listen", "0o600"],
    ];
    for (const [label, operation, options] of badOptions) {
      it(`${operation}: ${label} → invalid-argument`, () =>
        withTempDir(async (dir) => {
          const file = `${dir}/bad.sock`;
          const work = operation === "connect" ? net.unix.connect(file, options as Loose) : net.unix.listen(file, options as Loose);
          const error = await rejectsWith(work, "invalid-argument");
          assert.match(error.message, new RegExp(`^unix\\.${operation}`));
          assert.equal(fs.existsSync(file), false);
        }));
    }

    it("asks the policy first, with the absolute path, and is access-denied when it says no", () =>
      withTempDir(async (dir) => {
        const asked: AccessRequest[] = [];
        const denying = new Network(driver, {
          check: (request) => {
            asked.push(request);
            return "no --allow-outbound/--allow-inbound rule for this path";
          },
        });
        const relative = `${path.relative(process.cwd(), dir)}/policy.sock`;
        const error = await rejectsWith(denying.unix.listen(relative), "access-denied");
        assert.match(error.message, /no --allow/);
        await rejectsWith(denying.unix.connect(`${dir}/sub/../policy.sock`), "access-denied");
        assert.deepEqual(asked, [
          { kind: "inbound-unix", path: `${dir}/policy.sock` },
          { kind: "outbound-unix", path: `${dir}/policy.sock` },
        ]);
        assert.equal(fs.existsSync(`${dir}/policy.sock`), false, "nothing was bound");
      }));
  });
}
