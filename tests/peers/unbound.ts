/**
 * A real DNS server for the wire resolver's encrypted transports: Debian's unbound 1.17
 * (`npm test` installs the `unbound` package, see scripts/peers.mjs) in the foreground on
 * three loopback ports from one config:
 *
 *   port       plain DNS over UDP and TCP
 *   tlsPort    DNS over TLS (RFC 7858): 2-byte length-prefixed messages in TLS
 *   httpsPort  DNS over HTTPS (RFC 8484) at `path` (/dns-query), HTTP/2 only (ALPN h2;
 *              an HTTP/1.1 request gets no answer), GET `?dns=` and POST application/dns-message;
 *              at most 100 concurrent streams per connection (unbound's http-max-streams)
 *
 * TLS (both encrypted ports) uses the given certificate and key; with tests/peers/certs.ts
 * that is `server` (CN=localhost, SAN localhost and 127.0.0.1), trusted through `ca`.
 *
 * It is authoritative only, and never sends a query anywhere: no forward-zone, no stub,
 * no validator (module-config "iterator", no trust anchor), `local-zone: "." static` so
 * that every name outside the test zone gets NXDOMAIN at once, and, should the iterator
 * still be reached, `do-not-query-address` for every IPv4 and IPv6 address (the stats it
 * prints when stopped say `0 recursions`). No remote-control, no chroot, no user change,
 * no syslog; its files (config, zone file, certificate, key, pid) live in a temp dir.
 *
 * Zone `unisock.test`, served from a zone file by an `auth-zone` (for-downstream only), so
 * answers are authoritative (AA), a CNAME comes with its target's records (unbound's
 * local-data would send the CNAME alone), NXDOMAIN and NODATA carry the SOA:
 *   unisock.test        SOA ns.unisock.test. hostmaster.unisock.test. 1 3600 600 86400 300
 *   a.unisock.test      A 203.0.113.1 (no AAAA: NODATA with the SOA)
 *   v6.unisock.test     AAAA 2001:db8::1 (no A)
 *   both.unisock.test   A 203.0.113.2, AAAA 2001:db8::2
 *   alias.unisock.test  CNAME a.unisock.test (answered with a's A too)
 *   n0 ... n199.unisock.test  A 198.51.100.(i+1), e.g. n0 198.51.100.1, n199 198.51.100.200
 *   many.unisock.test   100 A records 198.51.100.1 ... 198.51.100.100 (truncated over UDP)
 *   anything else       NXDOMAIN (with the SOA in the zone; outside it without)
 * All TTLs are 300.
 * `records` adds more (zone-file lines, fully qualified owner names, class and TTL given).
 *
 * Every wait is bounded, and `stop()` ends the process (SIGTERM, then SIGKILL after a
 * grace), waits for it and removes the temp dir, so the leak guard sees nothing.
 *
 * @module
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const UNBOUND = ["/usr/sbin/unbound", "/usr/bin/unbound"].find((path) => existsSync(path));

/** The test zone. */
export const UNBOUND_ZONE = "unisock.test";

/** Bound of the wait for `start of service`. */
const READY_TIMEOUT_MS = 10_000;
/** How long unbound gets to end after SIGTERM before it is killed. */
const KILL_GRACE_MS = 2_000;

/** Why unbound cannot run here, or undefined when it can. */
export function unboundMissing(): string | undefined {
  return UNBOUND === undefined
    ? "unbound is not installed: run `apt-get install unbound` as root (npm test does, see scripts/peers.mjs)"
    : undefined;
}

/** Options of `startUnbound`. */
export interface UnboundOptions {
  /** The TLS certificate (chain) for DoT and DoH: PEM text, or the path of a PEM file. */
  cert: string;
  /** Its private key: PEM text, or the path of a PEM file. */
  key: string;
  /** More records for the zone, zone-file lines such as `"x.unisock.test. 300 IN A 192.0.2.7"`. */
  records?: string[];
  /** More `server:` clauses, as they are (e.g. `"http-max-streams: 200"`). */
  extraConfig?: string[];
  /** Bound of the wait until it serves (default 10 s). */
  readyTimeoutMs?: number;
}

/** A running unbound. */
export interface UnboundPeer {
  host: "127.0.0.1";
  /** Plain DNS, UDP and TCP. */
  port: number;
  /** DNS over TLS. */
  tlsPort: number;
  /** DNS over HTTPS (HTTP/2). */
  httpsPort: number;
  /** The DoH endpoint path, `/dns-query`. */
  path: string;
  /** The test zone, `unisock.test`. */
  zone: string;
  /** The config it runs with. */
  config: string;
  /** What it has written to stderr so far. */
  output(): string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The zone's records as zone-file lines (the ones documented at the top). */
export function unboundZoneRecords(zone = UNBOUND_ZONE): string[] {
  const records = [
    `${zone}. 3600 IN SOA ns.${zone}. hostmaster.${zone}. 1 3600 600 86400 300`,
    `a.${zone}. 300 IN A 203.0.113.1`,
    `v6.${zone}. 300 IN AAAA 2001:db8::1`,
    `both.${zone}. 300 IN A 203.0.113.2`,
    `both.${zone}. 300 IN AAAA 2001:db8::2`,
    `alias.${zone}. 300 IN CNAME a.${zone}.`,
  ];
  for (let i = 0; i < 200; i++) records.push(`n${i}.${zone}. 300 IN A 198.51.100.${i + 1}`);
  for (let i = 0; i < 100; i++) records.push(`many.${zone}. 300 IN A 198.51.100.${i + 1}`);
  return records;
}

function quote(value: string): string {
  if (/["\n]/.test(value)) throw new Error(`unbound config value with a quote or newline: ${value}`);
  return `"${value}"`;
}

/** The whole config `startUnbound` writes, for these ports and files. */
export function unboundConfig(settings: {
  dir: string;
  port: number;
  tlsPort: number;
  httpsPort: number;
  certFile: string;
  keyFile: string;
  zoneFile: string;
  extraConfig?: string[];
}): string {
  const { dir, port, tlsPort, httpsPort } = settings;
  const lines = [
    "server:",
    "  verbosity: 1",
    "  use-syslog: no",
    `  logfile: ""`,
    `  chroot: ""`,
    `  username: ""`,
    `  directory: ${quote(dir)}`,
    `  pidfile: ${quote(join(dir, "unbound.pid"))}`,
    "  num-threads: 1",
    "  so-reuseport: no",
    `  interface: 127.0.0.1@${port}`,
    `  interface: 127.0.0.1@${tlsPort}`,
    `  interface: 127.0.0.1@${httpsPort}`,
    "  do-ip4: yes",
    "  do-ip6: no",
    "  do-udp: yes",
    "  do-tcp: yes",
    `  tls-port: ${tlsPort}`,
    `  https-port: ${httpsPort}`,
    `  tls-service-pem: ${quote(settings.certFile)}`,
    `  tls-service-key: ${quote(settings.keyFile)}`,
    `  http-endpoint: "/dns-query"`,
    "  http-notls-downstream: no",
    "  access-control: 127.0.0.0/8 allow",
    // Authoritative only: no validator (so no trust anchor), and no query ever leaves.
    `  module-config: "iterator"`,
    "  do-not-query-address: 0.0.0.0/0",
    "  do-not-query-address: ::/0",
    `  local-zone: "." static`,
    // The test zone is left to the auth-zone below (transparent, no local data here).
    `  local-zone: "${UNBOUND_ZONE}." transparent`,
    ...(settings.extraConfig ?? []).map((line) => `  ${line}`),
    "auth-zone:",
    `  name: "${UNBOUND_ZONE}."`,
    `  zonefile: ${quote(settings.zoneFile)}`,
    "  for-downstream: yes",
    "  for-upstream: no",
    "  fallback-enabled: no",
    "remote-control:",
    "  control-enable: no",
    "",
  ];
  return lines.join("\n");
}

/** A port free on 127.0.0.1 for both TCP and UDP right now. */
export async function freeTcpUdpPort(): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const port = typeof address === "object" && address !== null ? address.port : 0;
        server.close(() => (port === 0 ? reject(new Error("no port from node:net")) : resolve(port)));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket("udp4");
      socket.once("error", () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error("no port free for both TCP and UDP after 20 tries");
}

function pemOrFile(value: string): string {
  return value.includes("-----BEGIN") ? value : readFileSync(value, "utf8");
}

function ended(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, SIGKILL after the grace, and resolves once the process has closed. */
function stopProcess(child: ChildProcess, closed: Promise<void>): Promise<void> {
  if (!ended(child)) child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (!ended(child)) child.kill("SIGKILL");
  }, KILL_GRACE_MS);
  return closed.finally(() => clearTimeout(timer));
}

/**
 * Starts unbound on 127.0.0.1 at three free ports (up to 5 tries when a port is taken
 * meanwhile) and waits, bounded, until it says `start of service`. Throws (never skips)
 * when unbound is missing or does not start. Use `await using peer = await startUnbound(...)`
 * or call `stop()`.
 */
export async function startUnbound(options: UnboundOptions): Promise<UnboundPeer> {
  const missing = unboundMissing();
  if (missing !== undefined || UNBOUND === undefined) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), "unisock-unbound-"));
  try {
    const certFile = join(dir, "server.pem");
    const keyFile = join(dir, "server.key");
    writeFileSync(certFile, pemOrFile(options.cert));
    writeFileSync(keyFile, pemOrFile(options.key), { mode: 0o600 });
    const zoneFile = join(dir, `${UNBOUND_ZONE}.zone`);
    writeFileSync(zoneFile, [...unboundZoneRecords(), ...(options.records ?? [])].join("\n") + "\n");
    let lastOutput = "";
    for (let tries = 0; tries < 5; tries++) {
      const port = await freeTcpUdpPort();
      let tlsPort = await freeTcpUdpPort();
      while (tlsPort === port) tlsPort = await freeTcpUdpPort();
      let httpsPort = await freeTcpUdpPort();
      while (httpsPort === port || httpsPort === tlsPort) httpsPort = await freeTcpUdpPort();
      const config = unboundConfig({ dir, port, tlsPort, httpsPort, certFile, keyFile, zoneFile, extraConfig: options.extraConfig });
      const configFile = join(dir, "unbound.conf");
      writeFileSync(configFile, config);

      const child = spawn(UNBOUND, ["-d", "-c", configFile], { stdio: ["ignore", "pipe", "pipe"] });
      let log = "";
      let spawnFailure: Error | undefined;
      const closed = new Promise<void>((resolve) => {
        child.once("error", (error) => {
          spawnFailure = error;
          resolve();
        });
        child.once("close", () => resolve());
      });
      let exited = false;
      void closed.then(() => (exited = true));
      child.stdout.setEncoding("utf8").on("data", (text: string) => (log += text));
      child.stderr.setEncoding("utf8").on("data", (text: string) => (log += text));

      const limit = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
      const deadline = Date.now() + limit;
      let ready = false;
      while (!exited && Date.now() < deadline) {
        if (/start of service/.test(log)) {
          ready = true;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (ready) {
        let stopping: Promise<void> | undefined;
        const stop = () =>
          (stopping ??= stopProcess(child, closed).finally(() => rmSync(dir, { recursive: true, force: true })));
        return {
          host: "127.0.0.1",
          port,
          tlsPort,
          httpsPort,
          path: "/dns-query",
          zone: UNBOUND_ZONE,
          config,
          output: () => log,
          stop,
          [Symbol.asyncDispose]: stop,
        };
      }
      await stopProcess(child, closed);
      if (spawnFailure !== undefined) throw new Error(`unbound could not run: ${spawnFailure.message}`, { cause: spawnFailure });
      lastOutput = log;
      if (!/address already in use|can't bind socket/i.test(log)) {
        const why = exited ? "ended before serving" : `did not serve within ${limit} ms`;
        throw new Error(`unbound ${why}:\n${log.trim()}\nconfig:\n${config}`);
      }
    }
    throw new Error(`unbound: no free ports after 5 tries:\n${lastOutput.trim()}`);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
