/**
 * `unisock listen ADDRESS`: serve one connection on stdin/stdout like `nc -l`, or echo
 * every connection with `--echo`; a TLS server for `tls://HOST:PORT`.
 *
 * @module
 */
import type { Connection, Listener, TlsServerOptions } from "../../mod.ts";
import { parseEndpoint, parseMode, UsageError } from "../args.ts";
import type { Endpoint, ParsedArgs } from "../args.ts";
import type { Command, Io } from "../command.ts";
import { chooseNetwork, formatAddress, listenOn } from "../network.ts";
import { copyConnection, pipeStdio } from "../pipe.ts";
import { onInterrupt, serve } from "../serve.ts";
import { describeTls, refuseTlsFlags, serverTls, TLS_FLAGS } from "../tls.ts";

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
  synopsis:
    "listen tcp://HOST:PORT | tls://HOST:PORT | unix:PATH [--mode 660] [--echo] [--cert FILE --key FILE] [--ca FILE --client-cert request|require]",
  summary: "accept one connection on stdin/stdout (like nc -l), or echo every one; TLS with tls://",
  help: `Listens, and prints "unisock: listening on ADDRESS" to stderr (with port 0, the port
picked). Then, like nc -l, takes one connection, stops listening, and copies it to stdout
and stdin to it (half-closing it when stdin ends) until its peer's side ends.

  --echo      serve every connection, all at once, sending back what each sends,
              until SIGINT or SIGTERM (exit code 0)
  --mode M    the Unix socket file's mode, in octal (e.g. 660), set before any
              connection is accepted

tcp://:PORT listens on every IPv4 address. A Unix socket file is removed when the tool
stops; a stale one (nobody listening) is replaced.

tls://HOST:PORT is a TLS server on that TCP address ("listening on tls://..."). Only
connections whose handshake succeeds are served; a failed handshake ends that
connection only. Without --echo, the tool prints one line on stderr about the client,
e.g. "unisock: TLSv1.3 TLS_AES_128_GCM_SHA256 from tcp://127.0.0.1:50122, client
certificate CN=alice,O=Example (sha256 3f9a0c1d2e4b5a69)" (or "no client certificate").

  --cert FILE         PEM: the server's certificate (with its chain); required
  --key FILE          PEM: its private key (unencrypted); required
  --client-cert MODE  request: ask clients for a certificate, accept one without;
                      require: refuse a client without one. A client certificate that
                      does not chain to --ca is refused either way. Needs --ca.
  --ca FILE           PEM: the issuers trusted for client certificates (only with
                      --client-cert)

A file that cannot be read is a usage error (exit 2); one that holds no valid PEM, or a
key that is not the certificate's, is invalid-argument (exit 1). For --allow-inbound a
tls:// address is TCP: a rule such as tcp://127.0.0.1:8443 allows it.`,
  args: { flags: { "--mode": "value", "--echo": "switch", ...TLS_FLAGS }, min: 1, max: 1 },
  run,
};

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const endpoint = parseEndpoint(args.positionals[0]);
  const mode = modeFor(args, endpoint);
  let tls: TlsServerOptions | undefined;
  if (endpoint.transport === "tcp" && endpoint.tls) tls = serverTls(args);
  else refuseTlsFlags(args);
  const listener = await listenOn(chooseNetwork(args.network), endpoint, mode, tls);
  io.log(`listening on ${formatAddress(listener.localAddress, tls !== undefined)}`);
  if (args.flags.has("--echo")) return serve(listener, io, (conn) => copyConnection(conn, conn).then(() => {}));
  const accepted = await acceptOne(listener);
  if (typeof accepted === "number") return accepted;
  if (tls !== undefined) io.log(describeTls(accepted, `from ${formatAddress(accepted.remoteAddress)}`, "server"));
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
