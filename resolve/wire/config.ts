/**
 * The wire resolver's configuration: `/etc/resolv.conf` read as glibc reads it, and
 * name server addresses as a caller writes them.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { describeValue, parseIp } from "../../core/address.ts";
import type { IpAddress } from "../../core/address.ts";
import { socketError } from "../../core/errors.ts";
import { checkTlsClient } from "../../core/tls.ts";
import { normalizeName } from "../names.ts";

/**
 * One DNS server to ask.
 *
 * @example Using `NameServer`
 * ```ts
 * import type { NameServer } from "./config.ts";
 * const server: NameServer = { address: "127.0.0.1", family: "ipv4", port: 53 };
 * console.log(server.port);
 * ```
 */
export interface NameServer {
  /** The server's IP address, canonical. */
  address: IpAddress;
  /** Which IP version `address` is. */
  family: "ipv4" | "ipv6";
  /** The UDP and TCP port, 1 to 65535. */
  port: number;
}

/**
 * What `/etc/resolv.conf` says, with the resolv.conf(5) defaults filled in.
 *
 * @example Using `ResolvConf`
 * ```ts
 * import { parseResolvConf } from "./config.ts";
 * const conf = parseResolvConf("nameserver 127.0.0.1\noptions ndots:2\n");
 * console.log(conf.ndots, conf.timeoutMs); // 2 5000
 * ```
 */
export interface ResolvConf<Server extends NameServer | EncryptedNameServer = NameServer> {
  /**
   * At most three servers, in file order; `127.0.0.1:53` when the file names none. The
   * file only has plain ones; encrypted ones come from the `nameservers` option
   * (`ResolvConf<NameServer | EncryptedNameServer>`).
   */
  nameservers: Server[];
  /** Search domains: lower-case ASCII, no trailing dot; the last `search` or `domain` line wins. */
  search: string[];
  /** Names with fewer dots than this are tried with the search domains first (0 to 15, default 1). */
  ndots: number;
  /** How long to wait for one answer, in milliseconds (1 to 30 s, default 5 s). */
  timeoutMs: number;
  /** How many rounds over the servers (1 to 5, default 2). */
  attempts: number;
  /** `options rotate`: spread queries over the servers. */
  rotate: boolean;
  /** `options edns0`: advertise EDNS(0) in queries. */
  edns0: boolean;
}

const MAX_NAMESERVERS = 3; // glibc MAXNS
const MAX_NDOTS = 15; // glibc RES_MAXNDOTS
const MAX_TIMEOUT_S = 30; // glibc RES_MAXRETRANS
const MAX_ATTEMPTS = 5; // glibc RES_MAXRETRY

/**
 * Reads `/etc/resolv.conf` text leniently, as glibc does: comments (`#` or `;`),
 * unknown keywords, unknown options and unusable values are skipped. Only the first
 * three usable `nameserver` lines count, and a name server is a plain IP literal
 * (no port, no brackets, no `127.1`-style IPv4). Options: `ndots:N`, `timeout:N`,
 * `attempts:N`, `rotate`, `edns0`; numbers beyond glibc's limits are capped.
 * Not applied here: `LOCALDOMAIN`, `RES_OPTIONS`, and the host name's domain as a
 * default search list.
 *
 * @param text The file's content.
 * @returns The configuration, defaults filled in.
 *
 * @example Using `parseResolvConf`
 * ```ts
 * import { parseResolvConf } from "./config.ts";
 * const conf = parseResolvConf("# home\nnameserver 2001:db8::53\nsearch corp.example\n");
 * console.log(conf.nameservers[0].address, conf.search); // 2001:db8::53 ["corp.example"]
 * ```
 */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = {
    nameservers: [],
    search: [],
    ndots: 1,
    timeoutMs: 5000,
    attempts: 2,
    rotate: false,
    edns0: false,
  };
  for (const line of text.split(/\r?\n/)) {
    const [keyword, ...values] = line.replace(/[#;].*/, "").trim().split(/[ \t]+/);
    if (values.length === 0) continue;
    if (keyword === "nameserver") {
      const server = values[0].startsWith("[") ? undefined : parseIp(values[0]);
      if (server !== undefined && conf.nameservers.length < MAX_NAMESERVERS) {
        conf.nameservers.push({ ...server, port: 53 });
      }
    } else if (keyword === "search" || keyword === "domain") {
      conf.search = searchList(keyword === "domain" ? values.slice(0, 1) : values);
    } else if (keyword === "options") {
      for (const option of values) applyOption(conf, option);
    }
  }
  if (conf.nameservers.length === 0) conf.nameservers.push({ address: "127.0.0.1", family: "ipv4", port: 53 });
  return conf;
}

function searchList(names: string[]): string[] {
  const list: string[] = [];
  for (const name of names) {
    try {
      const ascii = normalizeName(name, "resolv.conf");
      if (!list.includes(ascii)) list.push(ascii);
    } catch {
      // An unusable search domain is skipped, as the rest of the file is still good.
    }
  }
  return list;
}

function applyOption(conf: ResolvConf, option: string): void {
  if (option === "rotate") conf.rotate = true;
  else if (option === "edns0") conf.edns0 = true;
  const match = /^(ndots|timeout|attempts):(\d+)$/.exec(option);
  if (match === null) return;
  const value = Number(match[2]);
  // A timeout of 0 becomes glibc's one-second floor; 0 attempts would never ask, so 1.
  if (match[1] === "ndots") conf.ndots = Math.min(value, MAX_NDOTS);
  else if (match[1] === "timeout") conf.timeoutMs = Math.min(Math.max(value, 1), MAX_TIMEOUT_S) * 1000;
  else conf.attempts = Math.min(Math.max(value, 1), MAX_ATTEMPTS);
}

/**
 * Parses a name server as a caller writes it: `127.0.0.1`, `127.0.0.1:5353`, `::1`,
 * `[::1]:5353`. Without a port it is 53; a bare IPv6 address never has one, and
 * brackets need one. Anything else, including host names, fails.
 *
 * @param text The server.
 * @returns The server's address, family and port.
 * @throws {SocketError} `invalid-argument`, saying what is wrong.
 *
 * @example Using `parseNameServer`
 * ```ts
 * import { parseNameServer } from "./config.ts";
 * console.log(parseNameServer("[2001:db8::53]:5353")); // { address: "2001:db8::53", family: "ipv6", port: 5353 }
 * console.log(parseNameServer("127.0.0.1").port); // 53
 * ```
 */
export function parseNameServer(text: string): NameServer {
  const invalid = (detail: string) => socketError("invalid-argument", "WireResolver", describeValue(text), detail);
  if (typeof text !== "string" || text === "") throw invalid("a name server must be a non-empty string");
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  let host = text;
  let port: string | undefined;
  if (bracketed !== null) {
    [, host, port] = bracketed;
    if (port === undefined) throw invalid("a bracketed IPv6 name server needs a port, as in [::1]:53");
  } else if (text.indexOf(":") === text.lastIndexOf(":") && text.includes(":")) {
    [host, port] = text.split(":");
  }
  const ip = host.startsWith("[") ? undefined : parseIp(host);
  if (ip === undefined) throw invalid("a name server must be an IPv4 or IPv6 address, not a name");
  if (bracketed !== null && ip.family !== "ipv6") throw invalid("brackets are only for IPv6 addresses");
  if (port === undefined) return { ...ip, port: 53 };
  const number = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(number >= 1 && number <= 65535)) throw invalid(`port must be an integer from 1 to 65535, got "${port}"`);
  return { ...ip, port: number };
}

/**
 * A DNS server asked over an encrypted transport: DNS over TLS (RFC 7858) or DNS over
 * HTTPS (RFC 8484).
 *
 * @example Using `EncryptedNameServer`
 * ```ts
 * import { parseServer } from "./config.ts";
 * const server = parseServer("tls://127.0.0.1#dns.test");
 * if ("transport" in server) console.log(server.transport, server.port, server.identity); // tls 853 dns.test
 * ```
 */
export interface EncryptedNameServer {
  /** `"tls"`: DNS over TLS; `"https"`: DNS over HTTPS (HTTP/2, POST `application/dns-message`). */
  transport: "tls" | "https";
  /** The server: a canonical IP address, or a lower-case host name (resolved by the system resolver). */
  host: string;
  /** The TCP port: 853 for `tls://`, 443 for `https://` unless given. */
  port: number;
  /** The HTTP path for DNS over HTTPS (`/dns-query` when none is written); `""` for DNS over TLS. */
  path: string;
  /** The name (or IP address) the server's certificate must carry: `#NAME`, else `host`. */
  identity: string;
  /** The SNI name sent: `identity` when it is a name, undefined for an IP address. */
  serverName: string | undefined;
  /** The server as written, for messages. */
  text: string;
}

/**
 * Whether a server is asked over TLS or HTTPS rather than plain UDP and TCP.
 *
 * @param server A parsed server.
 * @returns True for `tls://` and `https://` servers.
 *
 * @example Using `isEncrypted`
 * ```ts
 * import { isEncrypted, parseServer } from "./config.ts";
 * console.log(isEncrypted(parseServer("127.0.0.1")), isEncrypted(parseServer("tls://127.0.0.1"))); // false true
 * ```
 */
export function isEncrypted(server: NameServer | EncryptedNameServer): server is EncryptedNameServer {
  return "transport" in server;
}

const ENCRYPTED = /^(tls|https):\/\/(\[[^\]]*\]|[^\/:#?\[\]@]+)(?::([^\/#?]*))?(\/[^#?]*)?(\?[^#]*)?(?:#(.*))?$/i;

/**
 * Parses a name server as a caller writes it: a plain one as {@linkcode parseNameServer}
 * takes it, or an encrypted one: `tls://HOST[:PORT][#NAME]` (DNS over TLS, port 853 by
 * default) or `https://HOST[:PORT]/PATH[#NAME]` (DNS over HTTPS, port 443 by default, path
 * `/dns-query` when none is written). HOST is an IP address (IPv6 in brackets) or a host
 * name; NAME, the name the certificate must carry, defaults to HOST.
 *
 * @param text The server.
 * @returns The parsed server.
 * @throws {SocketError} `invalid-argument`, saying what is wrong.
 *
 * @example Using `parseServer`
 * ```ts
 * import { parseServer } from "./config.ts";
 * console.log(parseServer("https://[::1]:8443/dns-query#localhost"));
 * // { transport: "https", host: "::1", port: 8443, path: "/dns-query", identity: "localhost", serverName: "localhost", text: "..." }
 * ```
 */
export function parseServer(text: string): NameServer | EncryptedNameServer {
  if (typeof text !== "string" || !/^[a-z]+:\/\//i.test(text)) return parseNameServer(text);
  const invalid = (detail: string) => socketError("invalid-argument", "WireResolver", describeValue(text), detail);
  const match = ENCRYPTED.exec(text);
  if (match === null) {
    throw invalid("an encrypted name server is tls://HOST[:PORT][#NAME] or https://HOST[:PORT]/PATH[#NAME]");
  }
  const [, scheme, rawHost, rawPort, rawPath, query, name] = match;
  const transport = scheme.toLowerCase() as "tls" | "https";
  if (transport === "tls" && (rawPath !== undefined || query !== undefined)) throw invalid("a tls:// name server has no path");
  if (query !== undefined) throw invalid("a DNS over HTTPS path takes no query string");
  let host: string;
  if (rawHost.startsWith("[")) {
    const ip = parseIp(rawHost.slice(1, -1));
    if (ip === undefined || ip.family !== "ipv6") throw invalid("brackets are only for IPv6 addresses");
    host = ip.address;
  } else {
    const ip = parseIp(rawHost);
    if (ip?.family === "ipv6") throw invalid("an IPv6 address needs brackets, as in tls://[::1]:853");
    host = ip?.address ?? normalizeName(rawHost, "WireResolver");
  }
  let port = transport === "tls" ? 853 : 443;
  if (rawPort !== undefined) {
    const number = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
    if (!(number >= 1 && number <= 65535)) throw invalid(`port must be an integer from 1 to 65535, got "${rawPort}"`);
    port = number;
  }
  if (name !== undefined && name === "") throw invalid("the name after # is empty");
  // The certificate checks of tcp.connect: NAME must be a host name or an IP address.
  const tls = checkTlsClient(name === undefined ? {} : { serverName: name }, host, "WireResolver");
  return {
    transport,
    host,
    port,
    path: transport === "https" ? (rawPath ?? "/dns-query") : "",
    identity: tls.identity,
    serverName: tls.serverName,
    text,
  };
}

/**
 * Reads a text file, such as `/etc/resolv.conf` or `/etc/hosts`, on any runtime.
 *
 * @param path The file.
 * @returns Its content as UTF-8, or undefined when it is missing or cannot be read.
 *
 * @example Using `readTextFile`
 * ```ts
 * import { parseResolvConf, readTextFile } from "./config.ts";
 * const conf = parseResolvConf((await readTextFile("/etc/resolv.conf")) ?? "");
 * console.log(conf.nameservers.length > 0); // true
 * ```
 */
export async function readTextFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}
