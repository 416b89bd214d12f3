/**
 * `unisock proxy FROM TO`: listen on FROM, and pipe every connection to a new one to TO.
 *
 * @module
 */
import { parseEndpoint, parseTarget } from "../args.ts";
import type { ParsedArgs } from "../args.ts";
import type { Command, Io } from "../command.ts";
import { chooseNetwork, connectTo, formatAddress, listenOn } from "../network.ts";
import { pipeBoth } from "../pipe.ts";
import { serve } from "../serve.ts";
import { modeFor } from "./listen.ts";

/**
 * `unisock proxy`.
 *
 * @example Using `proxyCommand`
 * ```ts
 * import { proxyCommand } from "./proxy.ts";
 * console.log(`unisock ${proxyCommand.synopsis}`);
 * ```
 */
export const proxyCommand: Command = {
  name: "proxy",
  synopsis: "proxy FROM TO [--mode 660]",
  summary: "listen on FROM; connect each connection to TO and pipe both ways",
  help: `Listens on FROM (tcp://HOST:PORT or unix:PATH) and prints "unisock: proxying ADDRESS
to TO" to stderr. For every connection it connects to TO and copies both ways, all
connections at once. Each direction is half-closed when its side ends; an error on
either side closes both (and is printed, the proxy goes on). SIGINT or SIGTERM closes
the listener (a Unix socket file is removed) and every connection (exit code 0).

  --mode M    FROM's Unix socket file mode, in octal (e.g. 660)

For example, a TCP port in front of a Unix socket:
  unisock proxy tcp://127.0.0.1:8080 unix:/run/app.sock
Limited to exactly that:
  unisock proxy tcp://127.0.0.1:8080 unix:/run/app.sock \\
    --allow-inbound=tcp://127.0.0.1:8080 --allow-outbound=unix:/run/app.sock`,
  args: { flags: { "--mode": "value" }, min: 2, max: 2 },
  run,
};

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const from = parseEndpoint(args.positionals[0]);
  const to = parseTarget(args.positionals[1]);
  const mode = modeFor(args, from);
  const network = chooseNetwork(args.network);
  const listener = await listenOn(network, from, mode);
  io.log(`proxying ${formatAddress(listener.localAddress)} to ${args.positionals[1]}`);
  return serve(listener, io, async (client, signal) => {
    const upstream = await connectTo(network, to, signal);
    await pipeBoth(client, upstream);
  });
}
