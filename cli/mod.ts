#!/usr/bin/env node
/**
 * `unisock`, the command-line tool: names to addresses, a TCP, TLS or Unix socket on
 * stdin/stdout, an echo server, and a proxy between TCP, TLS and Unix sockets, built on
 * the public API of unisock and run the same on Node.js, Deno and Bun.
 *
 * ```sh
 * npx unisock resolve localhost
 * npx unisock proxy tcp://127.0.0.1:8080 unix:/tmp/app.sock
 * npx unisock proxy tls://:8443 unix:/tmp/app.sock --cert cert.pem --key key.pem
 * deno run -A jsr:@unisock/unisock/cli connect tls://localhost:8443 --ca ca.pem
 * ```
 *
 * Running this module runs the tool on the process's arguments; it exports nothing.
 * Exit codes: 0 done, 1 a socket error (`unisock: CODE: MESSAGE` on stderr), 2 a usage
 * error. `unisock --help` lists the commands.
 *
 * @module
 */
import process from "node:process";
import { isNetworkFlag, parseArgs, UsageError } from "./args.ts";
import { errorLine } from "./command.ts";
import type { Command, Io } from "./command.ts";
import { connectCommand } from "./commands/connect.ts";
import { listenCommand } from "./commands/listen.ts";
import { proxyCommand } from "./commands/proxy.ts";
import { resolveCommand } from "./commands/resolve.ts";
import { commandHelp, toolHelp } from "./help.ts";

const COMMANDS: readonly Command[] = [resolveCommand, connectCommand, listenCommand, proxyCommand];

/** Runs the tool on `argv` (the arguments after the program); resolves to the exit code. */
async function main(argv: readonly string[], io: Io): Promise<number> {
  let command: Command | undefined;
  try {
    // Before the command: only --help and network flags (passed on to the command).
    const start = argv.findIndex((arg) => !arg.startsWith("-") || arg === "-" || arg === "--");
    const leading = start === -1 ? argv : argv.slice(0, start);
    const unknown = leading.find((arg) => arg !== "--help" && arg !== "-h" && !isNetworkFlag(arg));
    if (unknown !== undefined) throw new UsageError(`unknown flag ${unknown.split("=")[0]}`);
    let name = start === -1 ? undefined : argv[start];
    let rest = start === -1 ? [...leading] : [...leading, ...argv.slice(start + 1)];
    if (name === "help") [name, rest] = [rest.find((arg) => !arg.startsWith("-")), ["--help"]];
    if (name === undefined) {
      if (rest.includes("--help") || rest.includes("-h")) return help(io, toolHelp(COMMANDS));
      throw new UsageError("missing COMMAND");
    }
    command = COMMANDS.find((c) => c.name === name);
    if (command === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    const args = parseArgs(rest, command.args);
    if (args.help) return help(io, commandHelp(command));
    return await command.run(args, io);
  } catch (error) {
    if (!(error instanceof UsageError)) {
      io.log(errorLine(error));
      return 1;
    }
    io.log(error.message);
    if (command === undefined) io.printError(`usage: unisock COMMAND ARGS... (${COMMANDS.map((c) => c.name).join(", ")})`);
    else io.printError(`usage: unisock ${command.synopsis}`);
    io.printError(`"unisock ${command === undefined ? "" : `${command.name} `}--help" tells more.`);
    return 2;
  }
}

function help(io: Io, text: string): number {
  io.print(text);
  return 0;
}

/** The arguments after the program: `Deno.args` on Deno (the same as node:process gives), else `process.argv`. */
function programArgs(): string[] {
  const deno = (globalThis as { Deno?: { args: string[] } }).Deno;
  return deno !== undefined ? [...deno.args] : process.argv.slice(2);
}

/** Resolves once everything written to `stream` so far has been handed on. */
function flushed(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

const io: Io = {
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  print: (line) => void process.stdout.write(`${line}\n`),
  log: (line) => void process.stderr.write(`unisock: ${line}\n`),
  printError: (line) => void process.stderr.write(`${line}\n`),
};

// A reader that went away (`unisock ... | head -1`): end as a C program would, by SIGPIPE.
process.stdout.on("error", (error: NodeJS.ErrnoException) => process.exit(error.code === "EPIPE" ? 141 : 1));

const code = await main(programArgs(), io);
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
// Exits at once: stdin may still be open, and so may a server's last connections.
process.exit(code);
