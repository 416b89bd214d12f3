/**
 * Fails a test file that leaves handles open: loaded before every test file by
 * scripts/test.mjs (`node --import`, `deno test --preload`, `bun test --preload`), it
 * notes the process's sockets and pipes (`/proc/self/fd`) and, on Node and Deno, the
 * resources keeping the event loop alive (`process.getActiveResourcesInfo()`); after the
 * file's last test and hooks it waits a bounded while for closes in flight, and fails the
 * file when anything new is still open. Unhandled rejections already fail a file on all
 * three runtimes (checked in tests/leak_guard_test.ts, with leaks).
 *
 * Its `after` hook is registered at the top level before the file runs. Node and Deno run
 * top-level `after` hooks in the order they were registered, so a test file must keep
 * its own clean-up hooks inside a `describe` (they then run first everywhere) and not
 * at its top level.
 *
 * Deno's `node:test` ignores an error thrown by an `after` hook, so on Deno the leak is
 * raised as an unhandled rejection, which fails the file there. On Node the leaked
 * handles would keep the file's process running until the whole run times out, so the
 * guard ends it shortly after the failure is reported.
 *
 * @module
 */
import fs from "node:fs";
import process from "node:process";
import { after } from "node:test";

/** How long closes already started may take to reach the kernel before it counts as a leak. */
const SETTLE_MS = 3000;
const POLL_MS = 25;
/** On Node, how long the runner gets to report a leak before the process is ended. */
const EXIT_GRACE_MS = 2000;

/** The fd targets that are handles a test could leak: sockets and pipes. */
function openHandles(): Map<string, string> {
  const handles = new Map<string, string>();
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own fd, or closed since the listing
    }
    if (target.startsWith("socket:") || target.startsWith("pipe:")) handles.set(fd, target);
  }
  return handles;
}

/** `process.getActiveResourcesInfo()` counted by kind (empty on Bun, which has none). */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo?.() ?? []) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** Where a leaked socket is bound, from /proc/net (for the message only). */
function socketAddresses(): Map<string, string> {
  const byInode = new Map<string, string>();
  for (const table of ["tcp", "tcp6", "udp", "udp6", "unix"]) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/self/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (table === "unix" && fields.length >= 7) byInode.set(fields[6], `unix ${fields[7] ?? "(unnamed)"}`);
      else if (fields.length >= 10) byInode.set(fields[9], `${table} local ${fields[1]} remote ${fields[2]}`);
    }
  }
  return byInode;
}

const baselineHandles = new Set(openHandles().values());
const baselineResources = activeResources();

function leaks(): string[] {
  const found: string[] = [];
  for (const [fd, target] of openHandles()) {
    if (!baselineHandles.has(target)) found.push(`fd ${fd}: ${target}`);
  }
  for (const [kind, count] of activeResources()) {
    const extra = count - (baselineResources.get(kind) ?? 0);
    if (extra > 0) found.push(`${extra} × ${kind}`);
  }
  return found;
}

async function checkForLeaks(): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  let found = leaks();
  while (found.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    found = leaks(); // checked with no timer of ours pending
  }
  if (found.length === 0) return;
  const addresses = socketAddresses();
  const described = found.map((leak) => {
    const inode = /socket:\[(\d+)\]/.exec(leak)?.[1];
    const address = inode === undefined ? undefined : addresses.get(inode);
    return address === undefined ? leak : `${leak} (${address})`;
  });
  const error = new Error(`leak guard: handles left open after the file's tests:\n  ${described.join("\n  ")}`);
  if ("Deno" in globalThis) {
    void Promise.reject(error);
    return;
  }
  // On Node the leaked handles would keep the file's process alive for good: end it once
  // the runner has had time to report the failure (the timer does not hold the process).
  if (!("Bun" in globalThis)) setTimeout(() => process.exit(1), EXIT_GRACE_MS).unref();
  throw error;
}

after(checkForLeaks);
