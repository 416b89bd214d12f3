import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AttemptsFailed, happyEyeballs } from "../tcp/happy_eyeballs.ts";
import { socketError } from "../core/errors.ts";
import { networks, portOf } from "./helpers.ts";

for (const { name, net } of networks()) {
  describe(`tcp Happy Eyeballs (${name} driver)`, () => {
    it("connects by a name that gives ::1 first to a listener on 127.0.0.1 only", async () => {
      assert.deepEqual(await net.resolveAddresses("localhost"), ["::1", "127.0.0.1"]);
      await using listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted = listener.accept();
      await using conn = await net.tcp.connect({ hostname: "localhost", port: portOf(listener) });
      await using server = await accepted;
      assert.deepEqual(conn.remoteAddress, { address: "127.0.0.1", port: portOf(listener), family: "ipv4" });
      await conn.write(Uint8Array.of(5));
      assert.equal(await server.read(new Uint8Array(1)), 1);
    });

    it("names every address tried when all of them refuse", async () => {
      await using listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const port = portOf(listener);
      listener.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await assert.rejects(net.tcp.connect({ hostname: "localhost", port }), (error: Error & { code?: string }) => {
        assert.equal(error.code, "connection-refused");
        assert.match(error.message, /\[::1\]:\d+: connection-refused, 127\.0\.0\.1:\d+: connection-refused/);
        return true;
      });
    });
  });
}

/** An attempt that settles when told to, and records whether it was aborted. */
function controllable() {
  const log: string[] = [];
  const pending = new Map<string, { resolve: (c: string) => void; reject: (e: unknown) => void }>();
  const attempt = (address: string, signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      log.push(`start ${address}`);
      pending.set(address, { resolve, reject });
      signal.addEventListener("abort", () => {
        log.push(`abort ${address}`);
        reject(signal.reason);
      });
    });
  return { log, pending, attempt };
}

describe("Happy Eyeballs race (RFC 8305)", () => {
  it("starts the next attempt at once when the latest fails, and the first success wins", async () => {
    const { log, pending, attempt } = controllable();
    const released: string[] = [];
    const race = happyEyeballs(["a", "b", "c"], attempt, (c) => released.push(c), undefined, 60_000);
    assert.deepEqual(log, ["start a"]);
    pending.get("a")?.reject(socketError("connection-refused", "t", "a"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(log, ["start a", "start b"]);
    pending.get("b")?.resolve("conn-b");
    assert.equal(await race, "conn-b");
    assert.deepEqual(log, ["start a", "start b"], "c never started, and the winner is not aborted");
    assert.deepEqual(released, []);
  });

  it("staggers attempts, aborts the losers and releases a loser that connects anyway", async () => {
    const log: string[] = [];
    const released: string[] = [];
    let finishSlow: (c: string) => void = () => {};
    const attempt = (address: string, signal: AbortSignal) =>
      new Promise<string>((resolve) => {
        log.push(`start ${address}`);
        signal.addEventListener("abort", () => log.push(`abort ${address}`));
        if (address === "slow") finishSlow = resolve; // ignores its signal, connects late
        else setTimeout(() => resolve(`conn-${address}`), 5);
      });
    const winner = await happyEyeballs(["slow", "fast"], attempt, (c) => released.push(c), undefined, 20);
    assert.equal(winner, "conn-fast");
    assert.deepEqual(log, ["start slow", "start fast", "abort slow"]);
    finishSlow("conn-slow");
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(released, ["conn-slow"]);
  });

  it("rejects with every failure when all attempts fail", async () => {
    const attempt = (address: string) => Promise.reject(socketError("connection-refused", "t", address));
    await assert.rejects(happyEyeballs(["a", "b"], attempt, () => {}, undefined, 10), (error) => {
      assert.ok(error instanceof AttemptsFailed);
      assert.deepEqual(error.failures.map((f) => f.address), ["a", "b"]);
      return true;
    });
  });

  it("an outer abort stops every attempt and rejects with its reason", async () => {
    const { log, attempt } = controllable();
    const controller = new AbortController();
    const race = happyEyeballs(["a", "b"], attempt, () => {}, controller.signal, 60_000);
    const reason = new Error("cancelled");
    controller.abort(reason);
    await assert.rejects(race, (error) => error === reason);
    assert.deepEqual(log, ["start a", "abort a"]);
  });
});
