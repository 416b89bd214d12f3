/**
 * The help texts of the `unisock` tool.
 *
 * @module
 */
import type { Command } from "./command.ts";

const NETWORK_FLAGS = `network flags (anywhere on the line; with any of them, every operation goes through
createNetwork(flags) and is denied, "access-denied", unless a rule allows it):
  --allow-resolve=NAME,...        e.g. example.com, *.example.com, *
  --allow-outbound=RULE,...       e.g. tcp://127.0.0.1:5432, tcp://10.0.0.0/8:*, unix:/run/app.sock
  --allow-inbound=RULE,...        e.g. tcp://127.0.0.1:8080, tcp://*:8000-8100, unix:/run/app/*
(a tls:// address is TCP for these rules: tcp://localhost:8443 allows tls://localhost:8443)`;

const EXIT_CODES = `exit codes: 0 done; 1 a socket error, printed as "unisock: CODE: MESSAGE" (CODE is
a WASI sockets error code such as connection-refused or access-denied, or a TLS one such
as tls-certificate-untrusted); 2 a usage error.`;

/**
 * `unisock --help`.
 *
 * @param commands The commands, in the order to list them.
 * @returns The text.
 *
 * @example Using `toolHelp`
 * ```ts
 * import { toolHelp } from "./help.ts";
 * console.log(toolHelp([]).split("\n")[0]);
 * ```
 */
export function toolHelp(commands: readonly Command[]): string {
  const list = commands.map((command) => `  unisock ${command.synopsis}\n      ${command.summary}`).join("\n");
  return `usage: unisock COMMAND ARGS... [network flags]

Sockets from the command line, on Node.js, Deno and Bun: names to addresses, a TCP, TLS
or Unix socket on stdin/stdout, an echo server, and a TCP/TLS/Unix proxy.

commands:
${list}

addresses: tcp://HOST:PORT (tcp://127.0.0.1:8080, tcp://[::1]:8080, tcp://localhost:8080;
tcp://:PORT to listen on every IPv4 address; port 0 to listen on a free port),
tls://HOST:PORT (the same, with TLS: --ca FILE, --cert FILE --key FILE, --client-cert),
unix:PATH (unix:/run/app.sock; unix:@NAME for a Linux abstract name)

${NETWORK_FLAGS}

${EXIT_CODES}

"unisock COMMAND --help" (or "unisock help COMMAND") describes a command.`;
}

/**
 * `unisock COMMAND --help`.
 *
 * @param command The command.
 * @returns The text.
 *
 * @example Using `commandHelp`
 * ```ts
 * import { commandHelp } from "./help.ts";
 * import { connectCommand } from "./commands/connect.ts";
 * console.log(commandHelp(connectCommand).split("\n")[0]); // "usage: unisock connect tcp://HOST:PORT | tls://HOST:PORT | unix:PATH [--ca FILE] ..."
 * ```
 */
export function commandHelp(command: Command): string {
  return `usage: unisock ${command.synopsis}\n\n${command.help}\n\n${NETWORK_FLAGS}\n\n${EXIT_CODES}`;
}
