import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import type { AccessRequest } from "../network/policy.ts";
import { Network } from "../network/network.ts";
import { detectRuntime } from "../network/runtime.ts";
import { networks, rejectsWith } from "./helpers.ts";
import { abstractName, makeStaleSocket, withTempDir } from "./unix_helpers.ts";

type Loose = never;

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

/** Whether this Deno was started with --unstable-net (Deno.listenDatagram exists). */
function denoHasListenDatagram(): boolean {
  const deno = (globalThis as { Deno?: { listenDatagram?: unknown } }).Deno;
  return typeof deno?.listenDatagram === "function";
}

/** Why each driver has no Unix datagram sockets, as its message must say. */
const WHY: Record<string, RegExp> = {
  node: /node:dgram has no Unix domain sockets/,
  bun: /Bun\.udpSocket binds IP addresses only/,
  deno: /needs --unstable-net/,
};

for (const { name, net, driver } of networks()) {
  const supported = name === "deno" && detectRuntime() === "deno" && denoHasListenDatagram();
  const label = supported ? "supported: Deno under --unstable-net" : "not supported";

  describe(`unix datagram sockets (${name} driver, ${label})`, () => {
    it(`the driver says ${supported ? "it has them" : "why it has none"}`, () => {
      const why = driver.unixDatagramUnsupported();
      if (supported) {
        assert.equal(why, undefined);
        assert.equal(typeof driver.unixDatagramBind, "function");
      } else {
        assert.match(why ?? "", WHY[name]);
      }
    });

    it("rejects bad input with invalid-argument, creating no file", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/bad.sock`;
        const cases: [string, () => Promise<unknown>][] = [
          ["empty path", () => net.unix.bindDatagram("")],
          ["path not a string", () => net.unix.bindDatagram(42 as Loose)],
          ["path of 108 bytes", () => net.unix.bindDatagram(`${dir}/${"d".repeat(108 - dir.length - 1)}`)],
          ["NUL inside the path", () => net.unix.bindDatagram(`${dir}/a\0b.sock`)],
          ["options not an object", () => net.unix.bindDatagram(file, "0o600" as Loose)],
          ["mode above 0o777", () => net.unix.bindDatagram(file, { mode: 0o1000 })],
          ["mode not an integer", () => net.unix.bindDatagram(file, { mode: 1.5 })],
          ["mode for an abstract name", () => net.unix.bindDatagram(abstractName("mode"), { mode: 0o600 })],
        ];
        for (const [what, work] of cases) {
          const error = await rejectsWith(work, "invalid-argument").catch((cause: Error) => {
            throw new Error(`${what}: ${cause.message}`, { cause });
          });
          assert.match(error.message, /^unix\.bindDatagram/, what);
        }
        assert.deepEqual(fs.readdirSync(dir), []);
      }));

    it("asks the policy (inbound-unix, absolute path) before anything else", () =>
      withTempDir(async (dir) => {
        const asked: AccessRequest[] = [];
        const denying = new Network(driver, {
          check: (request) => {
            asked.push(request);
            return "no --allow-inbound rule for this path";
          },
        });
        const error = await rejectsWith(denying.unix.bindDatagram(`${dir}/sub/../policy.sock`), "access-denied");
        assert.match(error.message, /^unix\.bindDatagram .*no --allow-inbound/);
        assert.deepEqual(asked, [{ kind: "inbound-unix", path: `${dir}/policy.sock` }]);
        assert.deepEqual(fs.readdirSync(dir), []);
      }));

    if (!supported) {
      it("rejects with not-supported, saying why, and touches no file", () =>
        withTempDir(async (dir) => {
          const file = `${dir}/none.sock`;
          const error = await rejectsWith(net.unix.bindDatagram(file, { mode: 0o600 }), "not-supported");
          assert.match(error.message, /^unix\.bindDatagram /);
          assert.match(error.message, WHY[name]);
          assert.equal(fs.existsSync(file), false, "no socket file was created");
          // A stale socket file in the way is left as it was: nothing was replaced.
          makeStaleSocket(file);
          const before = fs.lstatSync(file);
          await rejectsWith(net.unix.bindDatagram(file), "not-supported");
          const after = fs.lstatSync(file);
          assert.equal(after.ino, before.ino);
          assert.deepEqual(fs.readdirSync(dir), ["none.sock"]);
        }));
      return;
    }

    it("two sockets exchange datagrams both ways, each seeing the sender's path", () =>
      withTempDir(async (dir) => {
        await using a = await net.unix.bindDatagram(`${dir}/a.sock`);
        await using b = await net.unix.bindDatagram(`${dir}/b.sock`);
        assert.deepEqual(a.localAddress, { path: `${dir}/a.sock` });
        assert.equal(fs.lstatSync(`${dir}/a.sock`).isSocket(), true);

        assert.equal(await a.send(encode("ping"), `${dir}/b.sock`), 4);
        const ping = await b.receive();
        assert.equal(decode(ping.data), "ping");
        assert.deepEqual(ping.remoteAddress, { path: `${dir}/a.sock` });

        assert.equal(await b.send(encode("pong"), ping.remoteAddress), 4);
        const pong = await a.receive();
        assert.equal(decode(pong.data), "pong");
        assert.deepEqual(pong.remoteAddress, { path: `${dir}/b.sock` });

        // Datagram boundaries hold: an empty one, and one far above UDP's 65,507 bytes.
        const big = new Uint8Array(200_000).map((_, i) => i % 251);
        await a.send(new Uint8Array(0), b.localAddress);
        await a.send(big, b.localAddress);
        assert.equal((await b.receive()).data.length, 0);
        assert.deepEqual((await b.receive()).data, big);
      }));

    it("binds and talks over Linux abstract names, which have no file", async () => {
      const [nameA, nameB] = [abstractName("dgram-a"), abstractName("dgram-b")];
      await using a = await net.unix.bindDatagram(nameA);
      await using b = await net.unix.bindDatagram(nameB);
      await a.send(encode("abstract"), { path: nameB });
      const received = await b.receive();
      assert.equal(decode(received.data), "abstract");
      assert.deepEqual(received.remoteAddress, { path: nameA });
    });

    it("connect sets the default destination and receives only from that peer", () =>
      withTempDir(async (dir) => {
        await using a = await net.unix.bindDatagram(`${dir}/a.sock`);
        await using b = await net.unix.bindDatagram(`${dir}/b.sock`);
        await using c = await net.unix.bindDatagram(`${dir}/c.sock`);
        await rejectsWith(a.send(encode("where to?")), "invalid-argument");
        a.connect(`${dir}/b.sock`);
        assert.deepEqual(a.remoteAddress, { path: `${dir}/b.sock` });
        await a.send(encode("default"));
        assert.equal(decode((await b.receive()).data), "default");
        await rejectsWith(a.send(encode("elsewhere"), c.localAddress), "invalid-argument");

        await c.send(encode("from c"), a.localAddress);
        await b.send(encode("from b"), a.localAddress);
        const only = await a.receive();
        assert.equal(decode(only.data), "from b");
        a.disconnect();
        assert.equal(a.remoteAddress, undefined);
        await c.send(encode("from c again"), a.localAddress);
        assert.equal(decode((await a.receive()).data), "from c again");
      }));

    it("yields datagrams through async iteration until closed", () =>
      withTempDir(async (dir) => {
        const server = await net.unix.bindDatagram(`${dir}/server.sock`);
        await using client = await net.unix.bindDatagram(`${dir}/client.sock`);
        const seen: string[] = [];
        const serving = (async () => {
          for await (const { data, remoteAddress } of server) {
            seen.push(decode(data));
            await server.send(data, remoteAddress);
            if (seen.length === 3) server.close();
          }
        })();
        for (const word of ["one", "two", "three"]) {
          await client.send(encode(word), server.localAddress);
          assert.equal(decode((await client.receive()).data), word);
        }
        await serving;
        assert.deepEqual(seen, ["one", "two", "three"]);
      }));

    it("applies mode before returning, replaces a stale file, and removes the file on close", () =>
      withTempDir(async (dir) => {
        const file = `${dir}/mode.sock`;
        makeStaleSocket(file);
        const socket = await net.unix.bindDatagram(file, { mode: 0o600 });
        assert.equal(modeOf(file), 0o600);
        assert.equal(fs.lstatSync(file).isSocket(), true);
        socket.close();
        assert.equal(fs.existsSync(file), false, "close() removed the socket file");
        socket.close(); // twice is harmless

        const again = await net.unix.bindDatagram(file, { mode: 0o640 });
        assert.equal(modeOf(file), 0o640);
        await again[Symbol.asyncDispose]();
        assert.equal(fs.existsSync(file), false, "disposal removed the socket file");
      }));

    it("is address-in-use over a live socket or a file that is not a socket, leaving both alone", () =>
      withTempDir(async (dir) => {
        await using live = await net.unix.bindDatagram(`${dir}/live.sock`);
        await rejectsWith(net.unix.bindDatagram(`${dir}/live.sock`), "address-in-use");
        await using listener = await net.unix.listen(`${dir}/stream.sock`);
        await rejectsWith(net.unix.bindDatagram(`${dir}/stream.sock`), "address-in-use");
        fs.writeFileSync(`${dir}/plain`, "data");
        await rejectsWith(net.unix.bindDatagram(`${dir}/plain`), "address-in-use");
        assert.equal(fs.readFileSync(`${dir}/plain`, "utf8"), "data");
        // The live socket still works.
        await using probe = await net.unix.bindDatagram(`${dir}/probe.sock`);
        await probe.send(encode("still here"), live.localAddress);
        assert.equal(decode((await live.receive()).data), "still here");
        assert.equal(listener.localAddress.path, `${dir}/stream.sock`);
        await rejectsWith(net.unix.bindDatagram(`${dir}/missing/x.sock`), "address-not-bindable");
      }));

    it("a pending receive rejects with invalid-state on close, as do later calls", () =>
      withTempDir(async (dir) => {
        const socket = await net.unix.bindDatagram(`${dir}/pending.sock`);
        const pending = socket.receive();
        socket.close();
        const error = await rejectsWith(pending, "invalid-state");
        assert.match(error.message, /^unix\.receive /);
        await rejectsWith(socket.receive(), "invalid-state");
        await rejectsWith(socket.send(encode("late"), `${dir}/pending.sock`), "invalid-state");
        await rejectsWith(() => socket.connect(`${dir}/pending.sock`), "invalid-state");
        assert.equal(fs.existsSync(`${dir}/pending.sock`), false);
      }));

    it("a receive rejects with its signal's reason when aborted", () =>
      withTempDir(async (dir) => {
        await using socket = await net.unix.bindDatagram(`${dir}/abort.sock`);
        const controller = new AbortController();
        const reason = new Error("stop waiting");
        const pending = socket.receive({ signal: controller.signal });
        controller.abort(reason);
        await assert.rejects(pending, (error) => error === reason);
        await assert.rejects(socket.receive({ signal: AbortSignal.abort(reason) }), (error) => error === reason);
        await rejectsWith(socket.receive({ signal: "soon" as Loose }), "invalid-argument");
      }));

    it("drops nothing: a sender waits while the receiver's kernel queue is full", () =>
      withTempDir(async (dir) => {
        await using receiver = await net.unix.bindDatagram(`${dir}/slow.sock`);
        await using sender = await net.unix.bindDatagram(`${dir}/fast.sock`);
        // Far more than net.unix.max_dgram_qlen (10 by default), all asked for at once.
        const count = 200;
        const sending = Promise.all(Array.from({ length: count }, (_, i) => sender.send(encode(`n${i}`), receiver.localAddress)));
        for (let i = 0; i < count; i++) assert.equal(decode((await receiver.receive()).data), `n${i}`);
        assert.equal((await sending).length, count);
      }));

    it("Deno's socket does one thing at a time: a send while a receive waits is not-supported", () =>
      withTempDir(async (dir) => {
        await using a = await net.unix.bindDatagram(`${dir}/a.sock`);
        await using b = await net.unix.bindDatagram(`${dir}/b.sock`);
        // A receive asked after sends waits for them, and they all go out.
        const first = a.send(encode("1"), b.localAddress);
        const second = a.send(encode("2"), b.localAddress);
        const reply = a.receive();
        const error = await rejectsWith(a.send(encode("3"), b.localAddress), "not-supported");
        assert.match(error.message, /^unix\.send .*while a receive\(\) waits/);
        await Promise.all([first, second]);
        assert.equal(decode((await b.receive()).data), "1");
        assert.equal(decode((await b.receive()).data), "2");
        await b.send(encode("answer"), a.localAddress);
        assert.equal(decode((await reply).data), "answer");
        // Answered: sending works again.
        await a.send(encode("4"), b.localAddress);
        assert.equal(decode((await b.receive()).data), "4");
      }));

    it("a datagram that comes for an aborted receive waits for the next one", () =>
      withTempDir(async (dir) => {
        await using a = await net.unix.bindDatagram(`${dir}/a.sock`);
        await using b = await net.unix.bindDatagram(`${dir}/b.sock`);
        const controller = new AbortController();
        const waiting = a.receive({ signal: controller.signal });
        controller.abort(new Error("gave up"));
        await assert.rejects(waiting, /gave up/);
        await b.send(encode("late"), a.localAddress);
        assert.equal(decode((await a.receive()).data), "late");
      }));

    it("send: bad input is invalid-argument; nobody there is connection-refused", () =>
      withTempDir(async (dir) => {
        await using socket = await net.unix.bindDatagram(`${dir}/send.sock`);
        await rejectsWith(socket.send("text" as Loose, `${dir}/send.sock`), "invalid-argument");
        await rejectsWith(socket.send(encode("x"), 42 as Loose), "invalid-argument");
        await rejectsWith(socket.send(encode("x"), { path: "" }), "invalid-argument");
        await rejectsWith(socket.send(encode("x"), `${dir}/${"d".repeat(120)}`), "invalid-argument");
        await rejectsWith(() => socket.connect(null as Loose), "invalid-argument");
        await rejectsWith(socket.send(encode("x"), `${dir}/nobody.sock`), "connection-refused");
        makeStaleSocket(`${dir}/stale.sock`);
        await rejectsWith(socket.send(encode("x"), `${dir}/stale.sock`), "connection-refused");
        await using listener = await net.unix.listen(`${dir}/stream.sock`);
        const error = await rejectsWith(socket.send(encode("x"), listener.localAddress), "connection-refused");
        assert.match(error.message, /not a datagram socket/);
        await rejectsWith(socket.send(new Uint8Array(1024 * 1024), socket.localAddress), "datagram-too-large");
      }));

    it("asks the policy about each new destination (outbound-unix)", () =>
      withTempDir(async (dir) => {
        const asked: AccessRequest[] = [];
        const allowed = new Set([`${dir}/me.sock`, `${dir}/peer.sock`]);
        const limited = new Network(driver, {
          check: (request) => {
            asked.push(request);
            return "path" in request && allowed.has(request.path) ? undefined : "no rule for this path";
          },
        });
        await using me = await limited.unix.bindDatagram(`${dir}/me.sock`);
        await using peer = await net.unix.bindDatagram(`${dir}/peer.sock`);
        await using other = await net.unix.bindDatagram(`${dir}/other.sock`);
        await me.send(encode("1"), peer.localAddress);
        await me.send(encode("2"), `${dir}/peer.sock`);
        await rejectsWith(me.send(encode("3"), other.localAddress), "access-denied");
        assert.equal(decode((await peer.receive()).data), "1");
        assert.equal(decode((await peer.receive()).data), "2");
        assert.deepEqual(asked, [
          { kind: "inbound-unix", path: `${dir}/me.sock` },
          { kind: "outbound-unix", path: `${dir}/peer.sock` },
          { kind: "outbound-unix", path: `${dir}/other.sock` },
        ]);
      }));
  });
}
