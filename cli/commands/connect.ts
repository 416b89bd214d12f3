/**
 * `unisock connect ADDRESS`: stdin to the socket, the socket to stdout, like `nc`.
 *
 * @module
 */
import { parseTarget } from "../args.ts";
import type { ParsedArgs } from "../args.ts";
import type { Command, Io } from "../command.ts";
import { chooseNetwork, connectTo } from "../network.ts";
import { pipeStdio } from "../pipe.ts";

/**
 * `unisock connect`.
 *
 * @example Using `connectCommand`
 * ```ts
 * import { connectCommand } from "./connect.ts";
 * console.log(`unisock ${connectCommand.synopsis}`);
 * ```
 */
export const connectCommand: Command = {
  name: "connect",
  synopsis: "connect tcp://HOST:PORT | unix:PATH",
  summary: "connect; copy stdin to the socket and the socket to stdout (like nc)",
  help: `Connects to a TCP address (a name is resolved and its addresses raced, Happy
Eyeballs) or a Unix domain socket, then copies stdin to the socket and the socket to
stdout. When stdin ends, the socket is half-closed (the peer reads end of stream); when
the peer's side ends, the tool exits.`,
  args: { flags: {}, min: 1, max: 1 },
  run,
};

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const target = parseTarget(args.positionals[0]);
  const conn = await connectTo(chooseNetwork(args.network), target);
  await pipeStdio(conn, io.stdin, io.stdout);
  return 0;
}
