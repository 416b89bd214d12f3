import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { describe, it } from "node:test";
import { runProcess } from "./helpers.ts";

// Running out of file descriptors, for real: this runtime runs tests/fixtures/fd_limit_child.ts
// under `prlimit --nofile=256:256`; the child fills every descriptor left, tries each kind of
// socket, frees them and tries again, and prints what happened as one JSON line.
const CHILD = fileURLToPath(new URL("./fixtures/fd_limit_child.ts", import.meta.url));
const RUN_LIMIT_MS = 60_000;

function childCommand(): string[] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno !== undefined) return [deno.execPath(), "run", "-A", "--no-lock", CHILD];
  return [process.execPath, CHILD];
}

type Outcome = { ok: true } | { code: string; emfile: boolean } | { raw: string };
interface Report {
  filled: number;
  exhaustedMs: number;
  exhausted: Record<string, Outcome>;
  early: Outcome;
  fullWhileArriving: boolean;
  earlyReply: string;
  recovered: Record<string, Outcome>;
  reply: string;
}

async function runChild(): Promise<{ code: number | null; stdout: string; output: string }> {
  const { code, stdout, stderr } = await runProcess("prlimit", ["--nofile=256:256", ...childCommand()], { NO_COLOR: "1" }, RUN_LIMIT_MS);
  return { code, stdout, output: `stdout:\n${stdout}\nstderr:\n${stderr}` };
}

describe("no file descriptor left (prlimit --nofile=256)", () => {
  it("every socket call fails with a SocketError naming EMFILE, the same code on every runtime; a listener keeps listening; all works again once descriptors are free", async () => {
    const { code, stdout, output } = await runChild();
    assert.equal(code, 0, output);
    const report = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as Report;
    assert.ok(report.filled > 100, output);
    const expected = {
      "tcp.connect": "unknown",
      "tcp.listen": "unknown",
      "unix.connect": "unknown",
      "unix.listen": "unknown",
      "udp.bind": "unknown",
      "WireResolver.resolve": "temporary-resolver-failure",
    };
    for (const [call, wanted] of Object.entries(expected)) {
      // No code of the contract fits "no descriptor left" (WASI's new-socket-limit is not in
      // it), so it is unknown, with EMFILE in the message or cause.
      assert.deepEqual(report.exhausted[call], { code: wanted, emfile: true }, `${call} with no descriptor left: ${output}`);
      if (call !== "WireResolver.resolve") assert.deepEqual(report.recovered[call], { ok: true }, `${call} afterwards: ${output}`);
    }
    // A connection that arrived while the listener had no descriptor to accept it with: Deno
    // (unisock's driver waits and tries again) and Bun accept it once descriptors are back;
    // Node's libuv accepts it with a descriptor it keeps in reserve and closes it at once.
    assert.deepEqual(report.early, { ok: true }, output);
    assert.equal(report.fullWhileArriving, true, "no descriptor was left while the connection arrived");
    const node = !("Deno" in globalThis) && !("Bun" in globalThis);
    assert.ok((node ? ["end", "ok"] : ["ok"]).includes(report.earlyReply), `the connection made while the listener could not accept: ${report.earlyReply}`);
    assert.equal(report.reply, "ok", "the listener still answers after the descriptors came back");
  });
});
