/** Helpers of the Unix socket tests: short temp dirs, stale socket files, child processes. */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import process from "node:process";
import type { Connection } from "../core/connection.ts";
import type { Listener } from "../core/listener.ts";
import { detectRuntime } from "../network/runtime.ts";
import { echo } from "./helpers.ts";

/**
 * Runs `work` in a fresh directory under /tmp (short enough for 107-byte paths, and
 * mode 0o755 so another user can reach a socket in it), removed afterwards.
 */
export async function withTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync("/tmp/unisock-");
  fs.chmodSync(dir, 0o755);
  try {
    return await work(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** An abstract name no other test uses. */
export function abstractName(label: string): string {
  return `\0unisock-${label}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Leaves a real stale socket file at `path`: a Python process binds and listens on it,
 * then exits without unlinking it, so the file stays and nobody listens.
 */
export function makeStaleSocket(path: string): void {
  const script = "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\n";
  const result = spawnSync("python3", ["-c", script, path], { encoding: "utf8", timeout: 10_000 });
  if (result.error !== undefined) throw new Error(`python3 could not run (apt-get install python3): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`python3 failed: ${result.stderr}`);
}

/** Serves an echo on every accepted connection until the listener closes. */
export function serveEcho(listener: Listener): Promise<void> {
  return (async () => {
    const sessions: Promise<void>[] = [];
    for await (const conn of listener) sessions.push(echo(conn).catch(() => {}));
    await Promise.all(sessions);
  })();
}

/** Reads a connection to its end as text. */
export async function readText(conn: Connection): Promise<string> {
  const buffer = new Uint8Array(4096);
  const decoder = new TextDecoder();
  let text = "";
  let count: number | null;
  while ((count = await conn.read(buffer)) !== null) text += decoder.decode(buffer.subarray(0, count), { stream: true });
  return text + decoder.decode();
}

/** What a finished child process left. */
export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** A child process started by a test; `done` settles once it has exited and its pipes closed. */
export interface Child {
  readonly done: Promise<ChildResult>;
  /** Resolves once the child has printed `text`; rejects if it ends first. */
  ready(text: string): Promise<void>;
  kill(): void;
}

/** Starts `command`; it is killed after `timeoutMs` so that no test can leave it behind. */
export function startChild(command: string, args: string[], env?: Record<string, string>, timeoutMs = 60_000): Child {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} could not start: ${error.message}`, { cause: error }));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    done,
    async ready(text: string) {
      let ended = false;
      done.then(() => (ended = true), () => (ended = true));
      while (!stdout.includes(text)) {
        if (ended) throw new Error(`${command} ended before printing ${JSON.stringify(text)}: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** Runs `command` to its end. */
export function runChild(command: string, args: string[], env?: Record<string, string>, timeoutMs?: number): Promise<ChildResult> {
  return startChild(command, args, env, timeoutMs).done;
}

/** Fails with how to install them when system tools the interop tests need are missing. */
export function requireTools(names: string[]): void {
  const missing = names.filter((name) => spawnSync("which", [name]).status !== 0);
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(", ")}: apt-get install socat curl (setpriv is in util-linux)`);
  }
}

/** The command that runs a TypeScript file on this very runtime. */
export function runtimeCommand(script: string): [string, string[]] {
  switch (detectRuntime()) {
    case "deno":
      return [process.execPath, ["run", "-A", "--no-lock", "--no-check", script]];
    case "bun":
      return [process.execPath, [script]];
    case "node":
      return [process.execPath, [script]];
  }
}
