/** Running the `unisock` CLI (cli/mod.ts) from a test, on the runtime that runs the test. */
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../cli/mod.ts", import.meta.url));

/** How a finished CLI process ended, and what it printed. */
export interface CliResult {
  code: number | null;
  signal: string | null;
  stdout: Uint8Array;
  stderr: string;
}

/** A running CLI process. */
export interface CliProcess {
  /** Settles once it has exited and its pipes are closed. */
  readonly done: Promise<CliResult>;
  /** Resolves with the first match of `pattern` in stderr; rejects if the process ends first. */
  stderrMatch(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Sends a signal (SIGKILL by default) if it still runs. */
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<CliProcess>();

/** The command that runs the CLI on this runtime: Node and Bun run the .ts file, Deno `run -A`. */
export function cliCommand(args: readonly string[]): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno !== undefined) return [deno.execPath(), ["run", "-A", "--no-lock", CLI, ...args]];
  return [process.execPath, [CLI, ...args]];
}

/**
 * Starts the CLI. `stdin` is written and closed at once (`undefined`: closed empty;
 * `"open"`: left open until the process ends). It is killed after `timeoutMs`.
 */
export function startCli(args: readonly string[], stdin?: Uint8Array | string | "open", timeoutMs = 60_000): CliProcess {
  const [command, argv] = cliCommand(args);
  const child = spawn(command, argv, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  const stdout: Uint8Array[] = [];
  let stderr = "";
  child.stdout.on("data", (chunk: Uint8Array) => stdout.push(chunk));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  child.stdin.on("error", () => {}); // the CLI may exit before reading all of it
  if (stdin !== "open") child.stdin.end(stdin ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  let ended = false;
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} could not start: ${error.message}`, { cause: error }));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      ended = true;
      running.delete(cli);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr });
    });
  });
  const cli: CliProcess = {
    done,
    async stderrMatch(pattern) {
      for (;;) {
        const match = pattern.exec(stderr);
        if (match !== null) return match;
        if (ended) throw new Error(`the CLI ended before printing ${pattern} on stderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    kill(signal = "SIGKILL") {
      if (ended || child.pid === undefined) return;
      // process.kill, not child.kill: after child.kill(signal), Deno's node:child_process
      // reports the process as killed by that signal (and sends SIGKILL after it) even
      // when the process handled the signal and exited with a code of its own.
      try {
        process.kill(child.pid, signal);
      } catch {
        // gone already
      }
    },
  };
  running.add(cli);
  return cli;
}

/** Runs the CLI to its end. */
export function runCli(args: readonly string[], stdin?: Uint8Array | string): Promise<CliResult> {
  return startCli(args, stdin).done;
}

/** Kills every CLI process still running and waits for them (for `after`). */
export async function killAll(): Promise<void> {
  const left = [...running];
  for (const cli of left) cli.kill();
  await Promise.allSettled(left.map((cli) => cli.done));
}

/** The text of a result's stdout. */
export function text(result: CliResult): string {
  return new TextDecoder().decode(result.stdout);
}
