/**
 * A real DNS server for tests: dnsmasq (Debian package; `.ci/run` installs it) on a
 * loopback port, authoritative for the zone `test`, with test-only answer data.
 *
 * Zone:
 *   a.test        A 203.0.113.10, AAAA 2001:db8::10
 *   v4only.test   A 203.0.113.11 (no AAAA: NODATA with SOA)
 *   v6only.test   AAAA 2001:db8::12 (no A)
 *   alias1.test   CNAME alias2.test, alias2.test CNAME a.test
 *   many.test     100 A records in 198.51.100.0/24 (truncated over UDP with EDNS 1232)
 *   *             anything else under test: NXDOMAIN with SOA
 *
 * With `wildcard` (for benches): a second kind of instance, not authoritative (dnsmasq's
 * auth mode ignores `--address`), that answers every name under the given domain with
 * A 203.0.113.9 and AAAA 2001:db8::9 (TTL 0), besides the zone above (TTL 0 too).
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";

const DNSMASQ = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].find((path) => existsSync(path));

/** Why dnsmasq cannot run here, or undefined when it can. Under CI a missing dnsmasq is a failure. */
export function dnsmasqMissing(): string | undefined {
  return DNSMASQ === undefined
    ? "dnsmasq is not installed: run `apt-get install dnsmasq-base` (as .ci/run does)"
    : undefined;
}

/** A running dnsmasq. */
export interface Dnsmasq {
  port: number;
  /** The `nameservers` entry for a WireResolver. */
  server: string;
  stop(): Promise<void>;
}

/** Options of {@linkcode startDnsmasq}. */
export interface DnsmasqOptions {
  /** A domain every name under which is answered (A 203.0.113.9, AAAA 2001:db8::9); the instance is then not authoritative. */
  wildcard?: string;
}

/** Starts dnsmasq on 127.0.0.1 at a free port; throws (never skips) when it is missing. */
export async function startDnsmasq(options: DnsmasqOptions = {}): Promise<Dnsmasq> {
  const wildcard = options.wildcard;
  const mode = wildcard === undefined
    ? ["--auth-server=ns.test,lo", "--auth-zone=test", "--auth-soa=1,hostmaster.test,1200,120,604800,300"]
    : [`--address=/${wildcard}/203.0.113.9`, `--address=/${wildcard}/2001:db8::9`];
  const missing = dnsmasqMissing();
  if (missing !== undefined || DNSMASQ === undefined) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), "unisock-dnsmasq-"));
  const hosts = join(dir, "hosts");
  writeFileSync(hosts, Array.from({ length: 100 }, (_, i) => `198.51.100.${i + 1} many.test\n`).join(""));
  for (let tries = 0; tries < 5; tries++) {
    const port = await freeUdpPort();
    const child = spawn(DNSMASQ, [
      "--keep-in-foreground",
      `--port=${port}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      "--no-poll",
      `--addn-hosts=${hosts}`,
      "--local=/test/",
      "--host-record=a.test,203.0.113.10,2001:db8::10",
      "--host-record=v4only.test,203.0.113.11",
      "--host-record=v6only.test,2001:db8::12",
      "--cname=alias1.test,alias2.test",
      "--cname=alias2.test,a.test",
      ...mode,
      "--user=root",
      "--log-facility=-",
      `--pid-file=${join(dir, "pid")}`,
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr?.on("data", (chunk: Uint8Array) => (log += new TextDecoder().decode(chunk)));
    const ready = await waitReady(child, () => log);
    if (ready) {
      return {
        port,
        server: `127.0.0.1:${port}`,
        async stop() {
          await stopChild(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stopChild(child);
    if (!/Address already in use|address in use/i.test(log)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`dnsmasq did not start: ${log}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error("dnsmasq: no free port after 5 tries");
}

async function waitReady(child: ChildProcess, log: () => string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) return false;
    if (/read .*hosts/.test(log())) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
