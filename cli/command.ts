/**
 * What every command of the `unisock` tool is: its help, its arguments, and `run`.
 *
 * @module
 */
import type { ArgsSpec, ParsedArgs } from "./args.ts";
import { SocketError } from "../mod.ts";
import type { ByteSink } from "./pipe.ts";

/**
 * The process a command runs in: its standard streams and a line to stderr.
 *
 * @example Using `Io`
 * ```ts
 * import process from "node:process";
 * import type { Io } from "./command.ts";
 * const io: Io = {
 *   stdin: process.stdin,
 *   stdout: process.stdout,
 *   print: (line) => process.stdout.write(`${line}\n`),
 *   log: (line) => process.stderr.write(`unisock: ${line}\n`),
 *   printError: (line) => process.stderr.write(`${line}\n`),
 * };
 * io.log("listening");
 * ```
 */
export interface Io {
  /** Standard input, read only by the commands that pipe it. */
  stdin: AsyncIterable<Uint8Array | string>;
  /** Standard output, for the bytes a command receives. */
  stdout: ByteSink;
  /** Prints a line of text to standard output. */
  print(line: string): void;
  /** Prints a line to standard error, after `unisock: `. */
  log(line: string): void;
  /** Prints a line to standard error as it is. */
  printError(line: string): void;
}

/**
 * A command of the tool.
 *
 * @example Using `Command`
 * ```ts
 * import type { Command } from "./command.ts";
 * const hello: Command = {
 *   name: "hello",
 *   synopsis: "hello",
 *   summary: "say hello",
 *   help: "Prints hello.",
 *   args: { flags: {}, min: 0, max: 0 },
 *   run: (_args, io) => {
 *     io.print("hello");
 *     return Promise.resolve(0);
 *   },
 * };
 * console.log(hello.name);
 * ```
 */
export interface Command {
  /** The name, as typed after `unisock`. */
  name: string;
  /** The usage line after `unisock `. */
  synopsis: string;
  /** One line for the tool's help. */
  summary: string;
  /** The rest of `unisock NAME --help`. */
  help: string;
  /** The flags and positionals it takes. */
  args: ArgsSpec;
  /** Runs the command; resolves to the exit code. */
  run(args: ParsedArgs, io: Io): Promise<number>;
}

/**
 * The line the tool prints for an error (after `unisock: `): `CODE: MESSAGE` for a
 * `SocketError`, else the message.
 *
 * @param error What was thrown.
 * @returns The line.
 *
 * @example Using `errorLine`
 * ```ts
 * import { SocketError } from "../mod.ts";
 * import { errorLine } from "./command.ts";
 * console.log(errorLine(new SocketError("timeout", "tcp.connect 192.0.2.1:80: timed out")));
 * ```
 */
export function errorLine(error: unknown): string {
  if (error instanceof SocketError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
