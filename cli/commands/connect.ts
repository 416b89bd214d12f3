/**
 * `unisock connect ADDRESS`: stdin to the socket, the socket to stdout, like `nc`; over
 * TLS for `tls://HOST:PORT`, like a small `openssl s_client`.
 *
 * @module
 */
import { parseTarget } from "../args.ts";
import type { ParsedArgs } from "../args.ts";
import type { Command, Io } from "../command.ts";
import { chooseNetwork, connectTo } from "../network.ts";
import { pipeStdio } from "../pipe.ts";
import { clientTls, describeTls, refuseClientCert, refuseTlsFlags, TLS_FLAGS } from "../tls.ts";

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
  synopsis: "connect tcp://HOST:PORT | tls://HOST:PORT | unix:PATH [--ca FILE] [--cert FILE --key FILE]",
  summary: "connect; copy stdin to the socket and the socket to stdout (like nc, or openssl s_client)",
  help: `Connects to a TCP address (a name is resolved and its addresses raced, Happy
Eyeballs) or a Unix domain socket, then copies stdin to the socket and the socket to
stdout. When stdin ends, the socket is half-closed (the peer reads end of stream); when
the peer's side ends, the tool exits.

tls://HOST:PORT is TCP with TLS on it, like a small openssl s_client: the server's
certificate must chain to a trusted issuer and name HOST (a name is also sent as SNI;
an IP address must be among the certificate's IP addresses). Once the handshake is done
the tool prints one line on stderr, e.g.
  unisock: TLSv1.3 TLS_AES_128_GCM_SHA256 to localhost, certificate CN=localhost (sha256 3f9a0c1d2e4b5a69)
(the first 16 hex digits of the certificate's SHA-256 fingerprint), then pipes as over
TCP; when stdin ends it sends close_notify, then FIN. A failed handshake is exit 1 with
its code: tls-certificate-untrusted, tls-certificate-name-mismatch, tls-handshake-failed.

  --ca FILE      PEM: trust only these issuers (default: the runtime's trust store)
  --cert FILE    PEM: a client certificate (with its chain), for servers that ask;
  --key FILE     PEM: its private key (unencrypted); --cert and --key go together

A file that cannot be read is a usage error (exit 2); one that holds no valid PEM is
invalid-argument (exit 1). For --allow-outbound a tls:// address is TCP: a rule such as
tcp://localhost:8443 allows it.`,
  args: { flags: { ...TLS_FLAGS }, min: 1, max: 1 },
  run,
};

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const target = parseTarget(args.positionals[0]);
  if (target.transport !== "tcp" || !target.tls) refuseTlsFlags(args);
  refuseClientCert(args);
  const tls = target.transport === "tcp" && target.tls ? clientTls(args) : undefined;
  const conn = await connectTo(chooseNetwork(args.network), target, undefined, tls);
  if (target.transport === "tcp" && target.tls) io.log(describeTls(conn, `to ${target.hostname}`, "client"));
  await pipeStdio(conn, io.stdin, io.stdout);
  return 0;
}
