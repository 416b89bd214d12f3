import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { loadableDrivers } from "../network/ambient.ts";

const child = fileURLToPath(new URL("./peers/udp_netns_child.ts", import.meta.url));

/** The command that runs a script on this very runtime (and, on Deno, with this run's flags). */
function sameRuntime(script: string, args: string[]): string[] {
  const deno = (globalThis as { Deno?: { execPath(): string; listenDatagram?: unknown } }).Deno;
  if (deno !== undefined) {
    const flags = typeof deno.listenDatagram === "function" ? ["--unstable-net"] : [];
    return [deno.execPath(), "run", "-A", ...flags, script, ...args];
  }
  return [process.execPath, script, ...args];
}

/** Runs the child in a new network namespace with lo up and a multicast route on lo. */
function inNamespace(command: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const setup = "ip link set lo up && ip route add 224.0.0.0/4 dev lo && exec \"$@\"";
  return new Promise((resolve, reject) => {
    const proc = spawn("unshare", ["--net", "sh", "-c", setup, "sh", ...command], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (chunk: Uint8Array) => (out += new TextDecoder().decode(chunk)));
    proc.stderr.on("data", (chunk: Uint8Array) => (err += new TextDecoder().decode(chunk)));
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    proc.once("error", reject);
    proc.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe("udp multicast and broadcast, in a network namespace of the test's own", () => {
  for (const driver of loadableDrivers()) {
    it(`joins, receives, leaves; broadcast needs setBroadcast (${driver.name} driver)`, async () => {
      const run = await inNamespace(sameRuntime(child, [driver.name]));
      assert.equal(run.code, 0, `child failed (unshare needs root): ${run.err}`);
      const result = JSON.parse(run.out.trim().split("\n").at(-1) ?? "{}");
      assert.equal(result.multicast, "to the group");
      assert.equal(result.afterLeave, "nothing");
      // Deno's native datagram sockets (--unstable-net) have SO_BROADCAST always on, and no way to set it.
      const denoNative = driver.name === "deno" &&
        typeof (globalThis as { Deno?: { listenDatagram?: unknown } }).Deno?.listenDatagram === "function";
      assert.equal(result.broadcastOff, denoNative ? "sent" : "access-denied");
      assert.equal(result.broadcastOn, denoNative ? "not-supported" : "to everyone");
    });
  }
});
