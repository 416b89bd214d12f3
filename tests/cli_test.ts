import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tcp, unix } from "../mod.ts";
import { drain, echo, patternBytes, sendPattern } from "./helpers.ts";
import { killAll, runCli, startCli, text } from "./cli_helpers.ts";

const dir = mkdtempSync("/tmp/unisock-cli-");
describe("cli", () => {
  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
  const lines = (output: string) => output.split("\n").filter((line) => line !== "");

  /** A TCP echo server on 127.0.0.1 in this process (unisock's API), until `close()`. */
  async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
    const listener = await tcp.listen({ hostname: "127.0.0.1", port: 0 });
    const sessions: Promise<void>[] = [];
    const serving = (async () => {
      for await (const conn of listener) sessions.push(echo(conn).catch(() => {}));
    })();
    return {
      port: listener.localAddress.port,
      async close() {
        listener.close();
        await serving;
        await Promise.all(sessions);
      },
    };
  }

  describe("cli: resolve", () => {
    it("prints localhost's addresses, one per line", async () => {
      const result = await runCli(["resolve", "localhost"]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines(text(result)), ["::1", "127.0.0.1"]);
    });

    it("--json prints an object of names", async () => {
      const result = await runCli(["resolve", "localhost", "--json"]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(text(result)), { localhost: ["::1", "127.0.0.1"] });
    });

    it("--family ipv4 gives IPv4 only; several names are prefixed", async () => {
      const ipv4 = await runCli(["resolve", "--family", "ipv4", "localhost"]);
      assert.equal(ipv4.code, 0, ipv4.stderr);
      assert.equal(text(ipv4), "127.0.0.1\n");
      const both = await runCli(["resolve", "localhost", "::FFFF:127.0.0.2", "--family=ipv4"]);
      assert.equal(both.code, 0, both.stderr);
      assert.deepEqual(lines(text(both)), ["localhost 127.0.0.1", "::FFFF:127.0.0.2 127.0.0.2"]);
    });

    it("an invalid name is a socket error: exit 1, the code on stderr, the others still printed", async () => {
      const result = await runCli(["resolve", "bad..name", "localhost", "--json"]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^unisock: invalid-argument: /m);
      assert.deepEqual(JSON.parse(text(result)), { localhost: ["::1", "127.0.0.1"] });
    });
  });

  describe("cli: connect", () => {
    it("pipes 1 MiB of stdin through a TCP echo server to stdout", async () => {
      const server = await echoServer();
      try {
        const input = patternBytes(1 << 20, 11);
        const result = await runCli(["connect", `tcp://127.0.0.1:${server.port}`], input);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout.length, input.length);
        assert.equal(sha256(result.stdout), sha256(input));
      } finally {
        await server.close();
      }
    });

    it("connects to a Unix socket; a refused connection is exit 1 with its code", async () => {
      const path = join(dir, "connect.sock");
      const listener = await unix.listen(path);
      const served = listener.accept().then(echo);
      try {
        const result = await runCli(["connect", `unix:${path}`], "over unix\n");
        assert.equal(result.code, 0, result.stderr);
        assert.equal(text(result), "over unix\n");
      } finally {
        listener.close();
        await served;
      }
      const refused = await runCli(["connect", `unix:${path}`]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^unisock: connection-refused: /m);
    });
  });

  describe("cli: listen", () => {
    it("--echo serves unisock clients at once, until SIGTERM", async () => {
      const server = startCli(["listen", "tcp://127.0.0.1:0", "--echo"]);
      const [, port] = await server.stderrMatch(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
      const inputs = [patternBytes(256 * 1024, 1), patternBytes(300 * 1024, 2)];
      const results = await Promise.all(inputs.map((input) => runCli(["connect", `tcp://127.0.0.1:${port}`], input)));
      for (const [i, result] of results.entries()) {
        assert.equal(result.code, 0, result.stderr);
        assert.equal(sha256(result.stdout), sha256(inputs[i]));
      }
      server.kill("SIGTERM");
      const ended = await server.done;
      assert.equal(ended.code, 0, ended.stderr);
    });

    it("--echo on a Unix socket with --mode; the file is removed on SIGINT", async () => {
      const path = join(dir, "echo.sock");
      const server = startCli(["listen", `unix:${path}`, "--echo", "--mode", "600"]);
      await server.stderrMatch(/listening on unix:/);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const result = await runCli(["connect", `unix:${path}`], "ping\n");
      assert.equal(text(result), "ping\n");
      server.kill("SIGINT");
      assert.equal((await server.done).code, 0);
      assert.throws(() => statSync(path), /ENOENT/);
    });

    it("without --echo, serves one connection on stdin/stdout, like nc -l", async () => {
      const server = startCli(["listen", "tcp://127.0.0.1:0"], "from the CLI\n");
      const [, port] = await server.stderrMatch(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
      const conn = await tcp.connect({ hostname: "127.0.0.1", port: Number(port) });
      try {
        await conn.write(new TextEncoder().encode("from a client\n"));
        await conn.closeWrite();
        const back = await drain(conn);
        assert.equal(back.sha256, sha256(new TextEncoder().encode("from the CLI\n")));
      } finally {
        conn.close();
      }
      const result = await server.done;
      assert.equal(result.code, 0, result.stderr);
      assert.equal(text(result), "from a client\n");
    });
  });

  describe("cli: proxy", () => {
    it("carries 4 MiB from TCP to a Unix socket and back, then stops on SIGINT", async () => {
      const path = join(dir, "backend.sock");
      const backend = await unix.listen(path);
      const served = backend.accept().then(echo);
      const proxy = startCli(["proxy", "tcp://127.0.0.1:0", `unix:${path}`]);
      try {
        const [, port] = await proxy.stderrMatch(/proxying tcp:\/\/127\.0\.0\.1:(\d+) to /);
        const conn = await tcp.connect({ hostname: "127.0.0.1", port: Number(port) });
        try {
          const [sent, received] = await Promise.all([
            sendPattern(conn, 4 << 20, 64 * 1024, 7).then(async (hash) => (await conn.closeWrite(), hash)),
            drain(conn),
          ]);
          assert.equal(received.bytes, 4 << 20);
          assert.equal(received.sha256, sent);
        } finally {
          conn.close();
        }
        await served;
        proxy.kill("SIGINT");
        const ended = await proxy.done;
        assert.equal(ended.code, 0, ended.stderr);
      } finally {
        backend.close();
      }
    });

    it("--allow-* flags apply: a denied upstream closes the client's connection and is reported", async () => {
      const path = join(dir, "denied.sock");
      const proxy = startCli(["proxy", "tcp://127.0.0.1:0", `unix:${path}`, "--allow-inbound=tcp://127.0.0.1:*"]);
      const [, port] = await proxy.stderrMatch(/proxying tcp:\/\/127\.0\.0\.1:(\d+) to /);
      const conn = await tcp.connect({ hostname: "127.0.0.1", port: Number(port) });
      try {
        assert.equal((await drain(conn)).bytes, 0);
      } finally {
        conn.close();
      }
      await proxy.stderrMatch(/unisock: access-denied: unix\.connect /);
      proxy.kill("SIGTERM");
      assert.equal((await proxy.done).code, 0);
      const listenDenied = await runCli(["proxy", "tcp://127.0.0.1:0", `unix:${path}`, "--allow-outbound=unix:/tmp/*"]);
      assert.equal(listenDenied.code, 1);
      assert.match(listenDenied.stderr, /^unisock: access-denied: tcp\.listen /m);
    });
  });

  describe("cli: network flags", () => {
    it("a denied operation is exit 1 with access-denied; an allowed one works", async () => {
      const server = await echoServer();
      try {
        const target = `tcp://127.0.0.1:${server.port}`;
        const denied = await runCli(["connect", target, "--allow-outbound=tcp://127.0.0.1:1"], "x");
        assert.equal(denied.code, 1);
        assert.match(denied.stderr, /^unisock: access-denied: /m);
        const allowed = await runCli(["--allow-outbound=tcp://127.0.0.1:*", "connect", target], "allowed\n");
        assert.equal(allowed.code, 0, allowed.stderr);
        assert.equal(text(allowed), "allowed\n");
        const noResolve = await runCli(["resolve", "localhost", "--allow-inbound=tcp://127.0.0.1:1"]);
        assert.equal(noResolve.code, 1);
        assert.match(noResolve.stderr, /^unisock: access-denied: /m);
      } finally {
        await server.close();
      }
    });
  });

  describe("cli: help and usage", () => {
    for (const args of [["--help"], ["-h"], ["help"], ["resolve", "--help"], ["connect", "--help"], ["listen", "-h"], ["proxy", "--help"], ["help", "proxy"]]) {
      it(`unisock ${args.join(" ")}: exit 0, usage on stdout`, async () => {
        const result = await runCli(args);
        assert.equal(result.code, 0, result.stderr);
        const command = args.find((arg) => !arg.startsWith("-") && arg !== "help");
        assert.match(text(result), new RegExp(`^usage: unisock ${command ?? "COMMAND"}`));
      });
    }

    const bad: string[][] = [
      [],
      ["frobnicate"],
      ["--verbose", "resolve", "localhost"],
      ["resolve"],
      ["resolve", "localhost", "--family", "ipv5"],
      ["resolve", "localhost", "--server"],
      ["resolve", "localhost", "--server", "dns.example:53"],
      ["connect"],
      ["connect", "http://127.0.0.1:80"],
      ["connect", "tcp://127.0.0.1:70000"],
      ["connect", "tcp://:80"],
      ["connect", "tcp://127.0.0.1:80", "extra"],
      ["listen", "tcp://127.0.0.1:0", "--mode", "600"],
      ["listen", "unix:/tmp/x.sock", "--mode", "999"],
      ["proxy", "tcp://127.0.0.1:0"],
      ["proxy", "tcp://127.0.0.1:0", "unix:/tmp/x.sock", "--allow-outbound=ftp://x"],
    ];
    for (const args of bad) {
      it(`unisock ${args.join(" ") || "(nothing)"}: exit 2, usage on stderr`, async () => {
        const result = await runCli(args);
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, /^usage: unisock /m);
        assert.equal(text(result), "");
      });
    }
  });
});
