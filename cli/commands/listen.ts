/**
 * `unisock listen ADDRESS`: serve one connection on stdin/stdout like `nc -l`, or echo
 * every connection with `--echo`.
 *
 * @module
 */
import type { Connection, Listener } from "../../mod.ts";
import { parseEndpoint, parseMode, UsageError } from "../args.ts";
import type { Endpoint, ParsedArgs } from "../args.ts";
import type { Command, Io } from "../command.ts";
import { chooseNetwork, formatAddress, listenOn } from "../network.ts";
import { copyConnection, pipeStdio } from "../pipe.ts";
import { onInterrupt, serve } from "../serve.ts";

/**
 * `unisock listen`.
 *
 * @example Using `listenCommand`
 * ```ts
 * import { listenCommand } from "./listen.ts";
 * console.log(`unisock ${listenCommand.synopsis}`);
 * ```
 */
export const listenCommand: Command = {
  name: "listen",
  synopsis: "listen tcp://HOST:PORT | unix:PATH [--mode 660] [--echo]",
  summary: "accept one connection on stdin/stdout (like nc -l), or echo every one",
  help: `Listens, and prints "unisock: listening on ADDRESS" to stderr (with port 0, the port
picked). Then, like nc -l, takes one connection, stops listening, and copies it to stdout
and stdin to it (half-closing it when stdin ends) until its peer's side ends.

  --echo      serve every connection, all at once, sending back what each sends,
              until SIGINT or SIGTERM (exit code 0)
  --mode M    the Unix socket file's mode, in octal (e.g. 660), set before any
              connection is accepted

tcp://:PORT listens on every IPv4 address. A Unix socket file is removed when the tool
stops; a stale one (nobody listening) is replaced.`,
  args: { flags: { "--mode": "value", "--echo": "switch" }, min: 1, max: 1 },
  run,
};

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const endpoint = parseEndpoint(args.positionals[0]);
  const mode = modeFor(args, endpoint);
  const listener = await listenOn(chooseNetwork(args.network), endpoint, mode);
  io.log(`listening on ${formatAddress(listener.localAddress)}`);
  if (args.flags.has("--echo")) return serve(listener, io, (conn) => copyConnection(conn, conn).then(() => {}));
  const accepted = await acceptOne(listener);
  if (typeof accepted === "number") return accepted;
  await pipeStdio(accepted, io.stdin, io.stdout);
  return 0;
}

/**
 * The `--mode` of a Unix listener, if given.
 *
 * @param args The parsed arguments.
 * @param endpoint Where to listen.
 * @returns The mode, or undefined.
 * @throws {UsageError} A malformed mode, or a mode for TCP.
 *
 * @example Using `modeFor`
 * ```ts
 * import { modeFor } from "./listen.ts";
 * const args = { positionals: [], flags: new Map([["--mode", "600"]]), help: false, network: undefined };
 * console.log(modeFor(args, { transport: "unix", path: "/tmp/a.sock" }) === 0o600); // true
 * ```
 */
export function modeFor(args: ParsedArgs, endpoint: Endpoint): number | undefined {
  const text = args.flags.get("--mode");
  if (text === undefined) return undefined;
  if (endpoint.transport !== "unix") throw new UsageError("--mode is for a Unix socket (unix:PATH)");
  return parseMode(text);
}

/** The first connection, with the listener closed; or the exit code of a signal that came first. */
async function acceptOne(listener: Listener): Promise<Connection | number> {
  let interrupted: number | undefined;
  const stop = onInterrupt((signal) => {
    interrupted = 128 + signal;
    listener.close();
  });
  try {
    return await listener.accept();
  } catch (error) {
    if (interrupted !== undefined) return interrupted;
    throw error;
  } finally {
    stop();
    listener.close();
  }
}
