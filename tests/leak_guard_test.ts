import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { describe, it } from "node:test";
import { runProcess } from "./helpers.ts";

// The leak guard (tests/leak_guard.ts) that scripts/test.mjs loads before every test file
// is itself tested here: this runtime runs tests/fixtures/leaky_file.ts with the guard
// preloaded, the way scripts/test.mjs does, once per thing the file can leave behind.
const GUARD = fileURLToPath(new URL("./leak_guard.ts", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/leaky_file.ts", import.meta.url));
const RUN_LIMIT_MS = 60_000;

function testCommand(): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno !== undefined) return [deno.execPath(), ["test", "-A", "--no-check", "--no-lock", "--preload", GUARD, FIXTURE]];
  if ("Bun" in globalThis) return [process.execPath, ["test", "--isolate", "--preload", GUARD, FIXTURE]];
  return [process.execPath, ["--test", "--import", GUARD, FIXTURE]];
}

async function runFixture(leak: string): Promise<{ code: number | null; output: string }> {
  const [command, args] = testCommand();
  const { code, stdout, stderr } = await runProcess(command, args, { UNISOCK_LEAK: leak, NO_COLOR: "1" }, RUN_LIMIT_MS);
  return { code, output: stdout + stderr };
}

describe("leak guard", () => {
  it("passes a file that closes what it opened", async () => {
    const { code, output } = await runFixture("none");
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /leak guard/);
  });

  const leaks: [string, RegExp][] = [
    ["listener", /fd \d+: socket:\[\d+\] \(tcp local 0100007F:[0-9A-F]{4} remote 00000000:0000\)/],
    ["connection", /fd \d+: socket:\[\d+\] \(tcp local 0100007F:[0-9A-F]{4} remote 0100007F:[0-9A-F]{4}\)/],
    ["child", /fd \d+: (socket|pipe):\[\d+\]/],
  ];
  for (const [leak, detail] of leaks) {
    it(`fails a file that leaves a ${leak} open, and names it`, async () => {
      const { code, output } = await runFixture(leak);
      assert.notEqual(code, 0, output);
      assert.match(output, /leak guard: handles left open after the file's tests/);
      assert.match(output, detail);
    });
  }

  it("fails a file with an unhandled rejection", async () => {
    const { code, output } = await runFixture("rejection");
    assert.notEqual(code, 0, output);
    assert.match(output, /rejected on purpose, unhandled/);
    assert.doesNotMatch(output, /leak guard/);
  });
});
