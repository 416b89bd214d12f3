// The smoke program: copied into a temporary project that has the packed tarball
// installed (node_modules/unisock), and run there by Node, Deno and Bun
// (scripts/smoke/run.mjs). It imports the package by its name, as a consumer would,
// so what it exercises is what npm ships: dist/ and package.json's "exports".
//
// Plain JavaScript that Node 20 parses (no `await using`, no TypeScript). It checks:
//   - every entry point imports (".", "./resolve", "./tcp", "./udp", "./unix", "./sockets",
//     "./sockets/register"), and after the register module `cloudflare:sockets` is ours;
//   - a Sockets API (`connect()` of `cloudflare:sockets`) echo round trip;
//   - resolveAddresses("localhost") gives the loopback addresses;
//   - a TCP echo round trip on 127.0.0.1;
//   - a Unix domain socket echo round trip on a socket file in a temporary directory;
//   - a UDP datagram each way on 127.0.0.1;
//   - disposal through [Symbol.asyncDispose].
// Prints one line `smoke ok: ...` and exits 0, or prints the error and exits 1.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

// The package is imported through a variable: in this repository `deno check` (which
// checks every module, .mjs included) would otherwise follow `unisock` to this
// package's own exports, i.e. to dist/, which exists only after a build. Where it
// runs (the temporary project) this resolves exactly as `import ... from "unisock"`.
const load = (specifier) => import(specifier);
const name = "unisock";
const unisock = await load(name);
const resolveEntry = await load(`${name}/resolve`);
const tcpEntry = await load(`${name}/tcp`);
const udpEntry = await load(`${name}/udp`);
const unixEntry = await load(`${name}/unix`);
const socketsEntry = await load(`${name}/sockets`);
await load(`${name}/sockets/register`);
const cloudflareSockets = await load("cloudflare:sockets");

const TIMEOUT_MS = 20_000;

function runtimeName() {
  if (typeof globalThis.Deno !== "undefined") return `deno ${globalThis.Deno.version.deno}`;
  if (typeof globalThis.Bun !== "undefined") return `bun ${globalThis.Bun.version}`;
  return `node ${process.versions.node}`;
}

function check(condition, message) {
  if (!condition) throw new Error(`smoke: ${message}`);
}

async function readExactly(connection, length) {
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await connection.read(out.subarray(filled));
    check(n !== null, `end of stream after ${filled} of ${length} bytes`);
    filled += n;
  }
  return out;
}

/** Listener + client: the client sends `payload`, the server echoes it, the client reads it back. */
async function echo(listener, connect) {
  const payload = new TextEncoder().encode(`unisock smoke ${"x".repeat(1000)} ${Date.now()}`);
  const accepted = listener.accept();
  const client = await connect();
  const server = await accepted;
  try {
    const serving = (async () => {
      const got = await readExactly(server, payload.length);
      await server.write(got);
    })();
    await client.write(payload);
    const back = await readExactly(client, payload.length);
    await serving;
    check(new TextDecoder().decode(back) === new TextDecoder().decode(payload), "echo differs from what was sent");
    return back.length;
  } finally {
    client.close();
    await server[Symbol.asyncDispose]();
  }
}

async function main() {
  const entries = {
    ".": unisock,
    "./resolve": resolveEntry,
    "./tcp": tcpEntry,
    "./udp": udpEntry,
    "./unix": unixEntry,
    "./sockets": socketsEntry,
  };
  for (const [name, names] of Object.entries({
    ".": ["resolveAddresses", "tcp", "udp", "unix", "SocketError", "SOCKET_ERROR_CODES"],
    "./resolve": ["resolveAddresses"],
    "./tcp": ["connect", "listen"],
    "./udp": ["bind"],
    "./unix": ["connect", "listen"],
    "./sockets": ["connect", "Socket", "SocketsApiError"],
  })) {
    for (const exported of names) check(exported in entries[name], `unisock${name.slice(1)} does not export ${exported}`);
  }
  check(typeof Symbol.asyncDispose === "symbol", "Symbol.asyncDispose is missing");

  const addresses = await unisock.resolveAddresses("localhost");
  check(Array.isArray(addresses) && addresses.includes("127.0.0.1"), `localhost resolved to ${JSON.stringify(addresses)}`);

  const tcpListener = await unisock.tcp.listen({ hostname: "127.0.0.1", port: 0 });
  let tcpBytes;
  try {
    const port = tcpListener.localAddress.port;
    tcpBytes = await echo(tcpListener, () => tcpEntry.connect({ hostname: "127.0.0.1", port }, { timeout: 5000 }));
  } finally {
    await tcpListener[Symbol.asyncDispose]();
  }

  check(cloudflareSockets.connect === socketsEntry.connect, "cloudflare:sockets is not unisock/sockets after the register module");
  const socketsListener = await unisock.tcp.listen({ hostname: "127.0.0.1", port: 0 });
  let socketsBytes;
  try {
    const accepted = socketsListener.accept();
    const socket = cloudflareSockets.connect(`127.0.0.1:${socketsListener.localAddress.port}`);
    const server = await accepted;
    try {
      const payload = new TextEncoder().encode(`unisock sockets smoke ${Date.now()}`);
      const serving = (async () => server.write(await readExactly(server, payload.length)))();
      const writer = socket.writable.getWriter();
      await writer.write(payload);
      const reader = socket.readable.getReader();
      let text = "";
      while (text.length < payload.length) {
        const { value, done } = await reader.read();
        check(!done, "sockets: end of stream before the echo");
        text += new TextDecoder().decode(value);
      }
      await serving;
      check(text === new TextDecoder().decode(payload), "sockets: echo differs from what was sent");
      socketsBytes = text.length;
      reader.releaseLock();
      writer.releaseLock();
      await socket.close();
    } finally {
      server.close();
    }
  } finally {
    await socketsListener[Symbol.asyncDispose]();
  }

  const udpA = await udpEntry.bind({ hostname: "127.0.0.1", port: 0 });
  const udpB = await unisock.udp.bind({ hostname: "127.0.0.1", port: 0 });
  let udpBytes;
  try {
    const ping = new TextEncoder().encode("unisock smoke ping");
    await udpA.send(ping, udpB.localAddress);
    const got = await udpB.receive({ signal: AbortSignal.timeout(5000) });
    check(got.remoteAddress.port === udpA.localAddress.port, "udp: datagram from the wrong port");
    await udpB.send(got.data, got.remoteAddress);
    const back = await udpA.receive({ signal: AbortSignal.timeout(5000) });
    check(new TextDecoder().decode(back.data) === "unisock smoke ping", "udp: echo differs from what was sent");
    udpBytes = back.data.length;
  } finally {
    udpA.close();
    await udpB[Symbol.asyncDispose]();
  }

  const dir = mkdtempSync(join(tmpdir(), "unisock-smoke-uds-"));
  let unixBytes;
  try {
    const path = join(dir, "echo.sock");
    const unixListener = await unisock.unix.listen(path, { mode: 0o600 });
    try {
      unixBytes = await echo(unixListener, () => unixEntry.connect(path, { timeout: 5000 }));
    } finally {
      await unixListener[Symbol.asyncDispose]();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    `smoke ok: ${runtimeName()}: resolveAddresses("localhost") = ${JSON.stringify(addresses)}, ` +
      `tcp echo ${tcpBytes} bytes, sockets echo ${socketsBytes} bytes, udp echo ${udpBytes} bytes, unix echo ${unixBytes} bytes`,
  );
}

const timer = setTimeout(() => {
  console.error(`smoke FAILED: ${runtimeName()}: still running after ${TIMEOUT_MS} ms`);
  process.exit(1);
}, TIMEOUT_MS);
try {
  await main();
  clearTimeout(timer);
} catch (error) {
  console.error(`smoke FAILED: ${runtimeName()}:`, error);
  process.exit(1);
}
