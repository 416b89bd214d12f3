/**
 * Attempts to get around a network handle's rules, each of which must be refused
 * (`access-denied`, or `invalid-argument` for spellings that are no address and no
 * name) before any system call: the target the attempt aims at — a TCP listener, a UDP
 * socket, a Unix listener — hears nothing but the probe sent afterwards, and the
 * resolver is asked no name it should not be.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import type { Driver } from "../core/driver.ts";
import type { Network } from "../network/network.ts";
import type { NetworkPolicyInit } from "../network/capability/rules.ts";
import { SocketError } from "../core/errors.ts";
import { loadableDrivers } from "../network/ambient.ts";
import {
  CountingResolver,
  restricted,
  tcpTarget,
  udpTarget,
  unixLayout,
  unixTarget,
  unrestricted,
} from "./capability_helpers.ts";
import { rejectsWith } from "./helpers.ts";
import { withTempDir } from "./unix_helpers.ts";

/** What an attempt can aim at; ports and paths are the live targets'. */
interface Context {
  /** The TCP listener's port on 127.0.0.1. */
  tcp: number;
  /** The UDP socket's port on 127.0.0.1. */
  udp: number;
  /** The Unix layout (see `unixLayout`); `socket` is the live listener's path. */
  allowed: string;
  secret: string;
  socket: string;
  driver: Driver;
  /** An allow-all network, for setting up. */
  open: Network;
}

interface Attempt {
  name: string;
  rules: (c: Context) => NetworkPolicyInit;
  code: "access-denied" | "invalid-argument";
  attempt: (net: Network, c: Context) => Promise<unknown>;
  /** Names the resolver may be asked (for names the rules let resolve). Default: none. */
  asked?: string[];
  /** Skip unless this holds. */
  when?: (c: Context) => boolean;
}

const other = (port: number) => (port === 65535 ? port - 1 : port + 1);
const bytes = (text: string) => new TextEncoder().encode(text);

const connect = (hostname: string) => (net: Network, c: Context) => net.tcp.connect({ hostname, port: c.tcp }, { timeout: 2000 });

/** Spellings of 127.0.0.1 that are neither a canonical address nor a name. */
const ODD_SPELLINGS = [
  "2130706433",
  "0x7f.1",
  "127.1",
  "0x7f000001",
  "0177.0.0.1",
  "127.0.0.01",
  "017700000001",
  "127.0.1",
  "0x7f.0.0.1",
  "127.0.0.1.",
  "１２７.０.０.１",
  "127。0。0。1",
];

const ATTEMPTS: Attempt[] = [
  // IPv4-mapped and other IPv6 forms of the target
  { name: "::ffff:127.0.0.1 when only [::1] is allowed", rules: (c) => [`--allow-outbound=tcp://[::1]:${c.tcp}`], code: "access-denied", attempt: connect("::ffff:127.0.0.1") },
  { name: "::ffff:7f00:1 (hex mapped)", rules: (c) => [`--allow-outbound=tcp://[::1]:${c.tcp}`], code: "access-denied", attempt: connect("::ffff:7f00:1") },
  { name: "0:0:0:0:0:ffff:7f00:1 under an all-IPv6 pool (::/0)", rules: (c) => [`--allow-outbound=tcp://[::]/0:${c.tcp}`], code: "access-denied", attempt: connect("0:0:0:0:0:ffff:7f00:1") },
  { name: "[::ffff:127.0.0.1] under ::/0 with any port", rules: () => ["--allow-outbound=tcp://::/0:*"], code: "access-denied", attempt: connect("[::ffff:127.0.0.1]") },
  { name: "::127.0.0.1 (IPv4-compatible) is not 127.0.0.1", rules: (c) => [`--allow-outbound=tcp://127.0.0.2:${c.tcp}`], code: "access-denied", attempt: connect("::127.0.0.1") },
  { name: "64:ff9b::127.0.0.1 (NAT64) is not 127.0.0.1", rules: (c) => [`--allow-outbound=tcp://127.0.0.2:${c.tcp}`], code: "access-denied", attempt: connect("64:ff9b::127.0.0.1") },
  { name: "0.0.0.0 (reaches local listeners on Linux)", rules: (c) => [`--allow-outbound=tcp://127.0.0.2:${c.tcp}`], code: "access-denied", attempt: connect("0.0.0.0") },
  { name: ":: (unspecified IPv6)", rules: (c) => [`--allow-outbound=tcp://127.0.0.2:${c.tcp}`], code: "access-denied", attempt: connect("::") },
  // Odd IPv4 spellings: no address, no name, even where every name may be resolved
  ...ODD_SPELLINGS.map((spelling): Attempt => ({
    name: `${JSON.stringify(spelling)} is invalid, even under --allow-resolve=*`,
    rules: (c) => ({ resolve: ["*"], outbound: [`tcp://127.0.0.2:${c.tcp}`] }),
    code: "invalid-argument",
    attempt: connect(spelling),
  })),
  { name: "127.1 as a listen address", rules: () => ({ resolve: ["*"], inbound: ["tcp://*:*"] }), code: "invalid-argument", attempt: (net) => net.tcp.listen({ hostname: "127.1", port: 0 }) },
  { name: "a NUL in a name", rules: () => ({ resolve: ["*"], outbound: ["tcp://*.internal:*"] }), code: "invalid-argument", attempt: connect("db.internal\0.evil") },
  { name: "a slash in a name", rules: () => ({ resolve: ["*"], outbound: ["tcp://*.internal:*"] }), code: "invalid-argument", attempt: connect("db.internal/") },
  { name: "a port inside the hostname", rules: () => ({ resolve: ["*"], outbound: ["tcp://*.internal:*"] }), code: "invalid-argument", attempt: (net, c) => net.tcp.connect({ hostname: `127.0.0.1:${c.tcp}`, port: other(c.tcp) }) },
  // localhost, spelled otherwise
  { name: "localhost. (trailing dot)", rules: (c) => [`--allow-outbound=tcp://127.0.0.2:${c.tcp}`], code: "access-denied", attempt: connect("localhost.") },
  { name: "LOCALHOST", rules: (c) => [`--allow-outbound=tcp://127.0.0.2:${c.tcp}`], code: "access-denied", attempt: connect("LOCALHOST") },
  { name: "ｌｏｃａｌｈｏｓｔ (full-width)", rules: (c) => [`--allow-outbound=tcp://127.0.0.2:${c.tcp}`], code: "access-denied", attempt: connect("ｌｏｃａｌｈｏｓｔ") },
  { name: "LocalHost. resolvable, but its addresses are not allowed", rules: (c) => ({ resolve: ["localhost"], outbound: [`tcp://127.0.0.2:${c.tcp}`] }), code: "access-denied", attempt: connect("LocalHost.") },
  { name: "x.localhost resolvable, but loopback is not allowed", rules: (c) => ({ resolve: ["*.localhost"], outbound: [`tcp://127.0.0.2:${c.tcp}`] }), code: "access-denied", attempt: connect("x.localhost") },
  { name: "an inbound localhost rule gives no outbound", rules: (c) => [`--allow-inbound=tcp://localhost:${c.tcp}`], code: "access-denied", attempt: connect("localhost") },
  // Names that look like allowed ones
  { name: "ԁb.internal (Cyrillic d) for db.internal", rules: (c) => [`--allow-outbound=tcp://db.internal:${c.tcp}`], code: "access-denied", attempt: connect("ԁb.internal") },
  { name: "api.еxample.com (Cyrillic e) under *.example.com", rules: (c) => [`--allow-outbound=tcp://*.example.com:${c.tcp}`], code: "access-denied", attempt: connect("api.еxample.com") },
  { name: "example.com itself under *.example.com", rules: (c) => [`--allow-outbound=tcp://*.example.com:${c.tcp}`], code: "access-denied", attempt: connect("example.com") },
  { name: "evilexample.com under *.example.com", rules: (c) => [`--allow-outbound=tcp://*.example.com:${c.tcp}`], code: "access-denied", attempt: connect("evilexample.com") },
  { name: "api.example.com.evil.internal under *.example.com", rules: (c) => [`--allow-outbound=tcp://*.example.com:${c.tcp}`], code: "access-denied", attempt: connect("api.example.com.evil.internal") },
  { name: "db.internal.evil.internal for db.internal", rules: (c) => [`--allow-outbound=tcp://db.internal:${c.tcp}`], code: "access-denied", attempt: connect("db.internal.evil.internal") },
  // Rebinding: a name that may be resolved, whose address is not allowed
  { name: "rebind.internal resolves to a denied address", rules: (c) => ({ resolve: ["rebind.internal"], outbound: [`tcp://127.0.0.2:${c.tcp}`] }), code: "access-denied", attempt: connect("rebind.internal"), asked: ["rebind.internal"] },
  { name: "loop.internal (under *.internal) resolves to loopback, which is not allowed", rules: (c) => ({ resolve: ["*.internal"], outbound: [`tcp://10.0.0.0/8:${c.tcp}`] }), code: "access-denied", attempt: connect("loop.internal"), asked: ["loop.internal"] },
  { name: "the address a name rule resolves to, written as a literal", rules: (c) => [`--allow-outbound=tcp://db.internal:${c.tcp}`], code: "access-denied", attempt: connect("127.0.0.1") },
  { name: "an allowed name on another port", rules: (c) => [`--allow-outbound=tcp://db.internal:${other(c.tcp)}`], code: "access-denied", attempt: connect("db.internal"), asked: ["db.internal"] },
  // Ports, protocols, directions
  { name: "a port range without the port", rules: (c) => [`--allow-outbound=tcp://127.0.0.1:${c.tcp < 30000 ? `${c.tcp + 1}-65535` : `1-${c.tcp - 1}`}`], code: "access-denied", attempt: connect("127.0.0.1") },
  { name: "a udp rule does not allow tcp", rules: (c) => [`--allow-outbound=udp://127.0.0.1:${c.tcp}`], code: "access-denied", attempt: connect("127.0.0.1") },
  { name: "an inbound rule does not allow connecting", rules: (c) => [`--allow-inbound=tcp://127.0.0.1:${c.tcp}`], code: "access-denied", attempt: connect("127.0.0.1") },
  { name: "resolving everything allows no connection", rules: () => ["--allow-resolve=*"], code: "access-denied", attempt: connect("127.0.0.1") },
  { name: "no rules at all", rules: () => ({}), code: "access-denied", attempt: connect("127.0.0.1") },
  { name: "an outbound rule does not allow listening", rules: () => ["--allow-outbound=tcp://127.0.0.1:*"], code: "access-denied", attempt: (net) => net.tcp.listen({ hostname: "127.0.0.1", port: 0 }) },
  { name: "port 0 (a free port) is outside a port range", rules: () => ["--allow-inbound=tcp://127.0.0.1:8000-8100"], code: "access-denied", attempt: (net) => net.tcp.listen({ hostname: "127.0.0.1", port: 0 }) },
  // Widening through restrict
  { name: "restrict with tcp://*:* widens nothing", rules: (c) => [`--allow-outbound=tcp://127.0.0.2:${c.tcp}`], code: "access-denied", attempt: (net, c) => connect("127.0.0.1")(net.restrict(["--allow-outbound=tcp://*:*"]), c) },
  { name: "restrict with --allow-resolve=* widens nothing", rules: () => ({ resolve: ["db.internal"] }), code: "access-denied", attempt: (net) => net.restrict({ resolve: ["*"] }).resolveAddresses("evil.internal") },
  { name: "a chain of restricts keeps the narrowest", rules: () => ["--allow-outbound=tcp://127.0.0.0/8:*"], code: "access-denied", attempt: (net, c) => connect("127.0.0.1")(net.restrict(["--allow-outbound=tcp://127.0.0.2:*"]).restrict([`--allow-outbound=tcp://127.0.0.1:${c.tcp}`]), c) },
  { name: "restrict to another folder widens nothing", rules: (c) => [`--allow-outbound=unix:${c.allowed}/*`], code: "access-denied", attempt: (net, c) => net.restrict([`--allow-outbound=unix:${c.secret}/*`]).unix.connect(c.socket) },
  { name: "restrict lets no UDP client socket bind where the parent has no UDP rule", rules: () => ["--allow-outbound=tcp://127.0.0.1:*"], code: "access-denied", attempt: (net) => net.restrict(["--allow-outbound=udp://127.0.0.1:*"]).udp.bind({ hostname: "127.0.0.1", port: 0 }) },
  // UDP
  { name: "udp send to another port", rules: (c) => [`--allow-outbound=udp://127.0.0.1:${other(c.udp)}`], code: "access-denied", attempt: async (net, c) => {
    await using socket = await net.udp.bind({ hostname: "127.0.0.1", port: 0 });
    await socket.send(bytes("x"), { address: "127.0.0.1", port: c.udp });
  } },
  { name: "udp sendMany with one denied datagram sends none", rules: (c) => [`--allow-outbound=udp://127.0.0.1:${other(c.udp)}`], code: "access-denied", attempt: async (net, c) => {
    await using socket = await net.udp.bind({ hostname: "127.0.0.1", port: 0 });
    await socket.sendMany([{ data: bytes("ok"), to: { address: "127.0.0.1", port: other(c.udp) } }, { data: bytes("x"), to: { address: "127.0.0.1", port: c.udp } }]);
  } },
  { name: "udp connect to a denied peer", rules: (c) => [`--allow-outbound=udp://127.0.0.2:${c.udp}`], code: "access-denied", attempt: async (net, c) => {
    await using socket = await net.udp.bind({ hostname: "127.0.0.1", port: 0 });
    socket.connect({ address: "127.0.0.1", port: c.udp });
  } },
  { name: "udp send to ::ffff:127.0.0.1 under ::/0", rules: () => ["--allow-outbound=udp://[::]/0:*"], code: "access-denied", attempt: async (net, c) => {
    await using socket = await net.udp.bind({ hostname: "::1", port: 0 });
    await socket.send(bytes("x"), { address: "::ffff:127.0.0.1", port: c.udp });
  } },
  { name: "udp send to 127.1", rules: () => ["--allow-outbound=udp://127.0.0.0/8:*"], code: "invalid-argument", attempt: async (net, c) => {
    await using socket = await net.udp.bind({ hostname: "127.0.0.1", port: 0 });
    await socket.send(bytes("x"), { address: "127.1", port: c.udp });
  } },
  { name: "udp send to the broadcast address under 127.0.0.0/8", rules: () => ["--allow-outbound=udp://127.0.0.0/8:*"], code: "access-denied", attempt: async (net, c) => {
    await using socket = await net.udp.bind({ hostname: "0.0.0.0", port: 0 });
    await socket.send(bytes("x"), { address: "255.255.255.255", port: c.udp });
  } },
  { name: "udp bind on a fixed port needs an inbound rule", rules: () => ["--allow-outbound=udp://127.0.0.1:*"], code: "access-denied", attempt: async (net, c) => {
    const free = await c.open.udp.bind({ hostname: "127.0.0.1", port: 0 });
    const port = free.localAddress.port;
    free.close();
    try {
      return await net.udp.bind({ hostname: "127.0.0.1", port });
    } catch (error) {
      // Nothing was bound: the port is still free (once the runtime has let it go: Deno closes late).
      for (let tries = 0;; tries++) {
        try {
          (await c.open.udp.bind({ hostname: "127.0.0.1", port })).close();
          break;
        } catch (busy) {
          if (tries === 40 || !(busy instanceof SocketError && busy.code === "address-in-use")) throw busy;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      }
      throw error;
    }
  } },
  { name: "udp bind on port 0 with no UDP rule", rules: () => ["--allow-outbound=tcp://127.0.0.1:*"], code: "access-denied", attempt: (net) => net.udp.bind({ hostname: "127.0.0.1", port: 0 }) },
  // Unix: .., links, other folders
  { name: "unix: .. out of the allowed folder", rules: (c) => [`--allow-outbound=unix:${c.allowed}/*`], code: "access-denied", attempt: (net, c) => net.unix.connect(`${c.allowed}/../secret/db.sock`) },
  { name: "unix: ./.. and a double slash", rules: (c) => [`--allow-outbound=unix:${c.allowed}/*`], code: "access-denied", attempt: (net, c) => net.unix.connect(`${c.allowed}//./../secret/db.sock`) },
  { name: "unix: a link in the allowed folder to the socket", rules: (c) => [`--allow-outbound=unix:${c.allowed}/*`], code: "access-denied", attempt: (net, c) => net.unix.connect(`${c.allowed}/link.sock`) },
  { name: "unix: a linked folder under **", rules: (c) => [`--allow-outbound=unix:${c.allowed}/**`], code: "access-denied", attempt: (net, c) => net.unix.connect(`${c.allowed}/sub/db.sock`) },
  { name: "unix: listening through a linked folder", rules: (c) => [`--allow-inbound=unix:${c.allowed}/**`], code: "access-denied", attempt: async (net, c) => {
    try {
      return await net.unix.listen(`${c.allowed}/sub/new.sock`);
    } catch (error) {
      assert.equal(fs.existsSync(`${c.secret}/new.sock`), false, "nothing was bound");
      throw error;
    }
  } },
  { name: "unix: listening on a dangling link", rules: (c) => [`--allow-inbound=unix:${c.allowed}/*`], code: "access-denied", attempt: async (net, c) => {
    try {
      return await net.unix.listen(`${c.allowed}/dangling.sock`);
    } catch (error) {
      assert.equal(fs.existsSync(`${c.secret}/new.sock`), false, "nothing was bound");
      throw error;
    }
  } },
  { name: "unix: a relative path to the socket", rules: (c) => [`--allow-outbound=unix:${c.allowed}/*`], code: "access-denied", attempt: (net, c) => net.unix.connect(path.relative(process.cwd(), c.socket)) },
  { name: "unix: a longer name than the allowed file", rules: (c) => [`--allow-outbound=unix:${c.secret}/db`], code: "access-denied", attempt: (net, c) => net.unix.connect(c.socket) },
  { name: "unix: an inbound rule does not allow connecting", rules: (c) => [`--allow-inbound=unix:${c.socket}`], code: "access-denied", attempt: (net, c) => net.unix.connect(c.socket) },
  { name: "unix: an abstract name is not in a folder", rules: (c) => [`--allow-outbound=unix:${c.allowed}/*`], code: "access-denied", attempt: (net) => net.unix.connect("\0unisock-capability"), when: (c) => c.driver.unixAbstract },
];

for (const driver of loadableDrivers()) {
  describe(`capability bypass attempts (${driver.name} driver)`, () => {
    it(`has at least 40 attempts (${ATTEMPTS.length})`, () => {
      assert.ok(ATTEMPTS.length >= 40);
    });

    for (const entry of ATTEMPTS) {
      it(`${entry.name} → ${entry.code}`, () =>
        withTempDir(async (dir) => {
          const resolver = new CountingResolver(driver);
          const open = unrestricted(driver, resolver);
          const layout = unixLayout(dir);
          const tcp = await tcpTarget(open);
          const udp = await udpTarget(open);
          const unix = await unixTarget(open, layout.socket);
          try {
            const context: Context = { tcp: tcp.port, udp: udp.port, ...layout, driver, open };
            if (entry.when !== undefined && !entry.when(context)) return;
            const net = restricted(driver, entry.rules(context), resolver);
            // Should an attempt succeed, what it opened is closed, so the failure does not hang the file.
            const work = entry.attempt(net, context).then((opened) => {
              (opened as { close?: () => void } | undefined)?.close?.();
              return opened;
            });
            const error = await rejectsWith(work, entry.code);
            assert.ok(error instanceof SocketError);
            if (entry.code === "access-denied") assert.match(error.message, /access denied/);
            assert.deepEqual(resolver.asked, entry.asked ?? [], "names the resolver was asked");
            await tcp.assertUntouched();
            await udp.assertUntouched();
            await unix.assertUntouched();
          } finally {
            tcp.listener.close();
            udp.socket.close();
            unix.listener.close();
          }
        }));
    }
  });
}
