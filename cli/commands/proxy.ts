/**
 * `unisock proxy FROM TO`: listen on FROM, and pipe every connection to a new one to TO;
 * either side may be `tls://` (terminating TLS, like stunnel, or originating it).
 *
 * @module
 */
import { SocketError } from "../../mod.ts";
import type { TlsClientOptions, TlsServerOptions } from "../../mod.ts";
import { parseEndpoint, parseTarget } from "../args.ts";
import type { Endpoint, ParsedArgs } from "../args.ts";
import type { Command, Io } from "../command.ts";
import { chooseNetwork, connectTo, formatAddress, listenOn } from "../network.ts";
import type { CliNetwork } from "../network.ts";
import { pipeBoth } from "../pipe.ts";
import { serve } from "../serve.ts";
import { clientTls, isTls, refuseClientCert, refuseTlsFlags, serverTls, TLS_FLAGS } from "../tls.ts";
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
  synopsis: "proxy FROM TO [--mode 660] [--cert FILE --key FILE] [--ca FILE] [--client-cert request|require]",
  summary: "listen on FROM; connect each connection to TO and pipe both ways (TLS on either side)",
  help: `Listens on FROM (tcp://HOST:PORT, tls://HOST:PORT or unix:PATH) and prints "unisock:
proxying ADDRESS to TO" to stderr. For every connection it connects to TO and copies both
ways, all connections at once. Each direction is half-closed when its side ends; an error
on either side closes both (and is printed, the proxy goes on). SIGINT or SIGTERM closes
the listener (a Unix socket file is removed) and every connection (exit code 0).

  --mode M    FROM's Unix socket file mode, in octal (e.g. 660)

For example, a TCP port in front of a Unix socket:
  unisock proxy tcp://127.0.0.1:8080 unix:/run/app.sock
Limited to exactly that:
  unisock proxy tcp://127.0.0.1:8080 unix:/run/app.sock \\
    --allow-inbound=tcp://127.0.0.1:8080 --allow-outbound=unix:/run/app.sock

TLS on either side (for --allow-* a tls:// address is TCP, tcp://HOST:PORT rules):
  unisock proxy tls://:8443 unix:/run/app.sock --cert c.pem --key k.pem
terminates TLS in front of a Unix socket (like stunnel): FROM is a TLS server, with
--cert and --key (required) and, to ask clients for a certificate, --client-cert
request|require with --ca (the issuers of client certificates); only connections whose
handshake succeeds are passed on.
  unisock proxy tcp://127.0.0.1:8080 tls://localhost:8443 --ca ca.pem
originates TLS: TO is a TLS client, as in "unisock connect tls://...": --ca the trusted
issuers (default: the runtime's trust store), --cert and --key a client certificate.
A handshake that fails closes that client's connection and is printed.

When FROM and TO are both tls://, --cert, --key and --client-cert are FROM's (the
server's); TO's server is checked against --ca (default: the trust store), and --ca
names the issuers of client certificates too when --client-cert is given: one --ca
serves both sides. TO then gets no client certificate.`,
  args: { flags: { "--mode": "value", ...TLS_FLAGS }, min: 2, max: 2 },
  run,
};

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const from = parseEndpoint(args.positionals[0]);
  const to = parseTarget(args.positionals[1]);
  const mode = modeFor(args, from);
  const { server, client } = proxyTls(args, from, to);
  const network = chooseNetwork(args.network);
  if (client !== undefined) await checkClientTls(network, to, client);
  const listener = await listenOn(network, from, mode, server);
  io.log(`proxying ${formatAddress(listener.localAddress, server !== undefined)} to ${args.positionals[1]}`);
  return serve(listener, io, async (conn, signal) => {
    const upstream = await connectTo(network, to, signal, client);
    await pipeBoth(conn, upstream);
  });
}

/** Which side gets which TLS flags (see the help): FROM's server options, TO's client options. */
function proxyTls(args: ParsedArgs, from: Endpoint, to: Endpoint): { server?: TlsServerOptions; client?: TlsClientOptions } {
  const fromTls = isTls(from);
  const toTls = isTls(to);
  if (!fromTls && !toTls) refuseTlsFlags(args);
  if (!fromTls) refuseClientCert(args);
  return {
    server: fromTls ? serverTls(args, { caIsShared: toTls }) : undefined,
    client: toTls ? clientTls(args, { withCertificate: !fromTls }) : undefined,
  };
}

/**
 * Checks TO's client options before listening, so that a bad PEM stops the tool at once
 * (`invalid-argument`) instead of failing every connection: `tcp.connect` checks its
 * options first, and with a signal already aborted it then stops without a socket.
 */
async function checkClientTls(network: CliNetwork, to: Endpoint, tls: TlsClientOptions): Promise<void> {
  const reason = new Error("only checking the options");
  const controller = new AbortController();
  controller.abort(reason);
  try {
    const conn = await connectTo(network, to, controller.signal, tls);
    conn.close(); // not expected: the signal was aborted
  } catch (error) {
    if (error instanceof SocketError && error.code === "invalid-argument") throw error;
  }
}
