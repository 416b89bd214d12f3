// The system programs the tests talk to (real peers, not mocks), and the Debian package
// each comes from. `ensurePeers()` runs before the first test (scripts/test.mjs): when
// one is missing it installs them all in one `apt-get install` if it runs as root and
// apt-get exists, and otherwise stops the run with one line naming what to install.
//
// Plain ESM JavaScript with no dependencies, so that any Node from 20 on runs it.
//
// Usage on its own: `node scripts/peers.mjs` (check, and install where it can) or
// `node scripts/peers.mjs --list` (print the table).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/**
 * Each peer: the program a test starts (`command`, looked up on PATH and in the sbin
 * folders, or an absolute path), its Debian package, and what it is for. A test whose
 * peer is missing fails; this table is what keeps that from happening on a fresh machine.
 */
export const PEERS = [
  { command: "/usr/sbin/dnsmasq", pkg: "dnsmasq-base", why: "a DNS server on a loopback port for the wire resolver" },
  { command: "/usr/sbin/unbound", pkg: "unbound", why: "a DNS server with DNS over TLS and DNS over HTTPS for the wire resolver" },
  { command: "socat", pkg: "socat", why: "Unix-socket interop" },
  { command: "curl", pkg: "curl", why: "HTTP over a Unix socket" },
  { command: "python3", pkg: "python3", why: "TCP peers that reset or never answer" },
  { command: "ip", pkg: "iproute2", why: "network namespaces for multicast and broadcast" },
  { command: "ss", pkg: "iproute2", why: "socket listings" },
  { command: "setpriv", pkg: "util-linux", why: "another user for Unix socket modes" },
  { command: "unshare", pkg: "util-linux", why: "network namespaces" },
  { command: "prlimit", pkg: "util-linux", why: "the file-descriptor limit test" },
  { command: "openssl", pkg: "openssl", why: "TLS peers (s_server, s_client) and test certificates" },
  { command: "/usr/lib/postgresql/15/bin/pg_ctl", pkg: "postgresql", why: "a real PostgreSQL server for postgres.js over the sockets API" },
  { command: "stunnel4", pkg: "stunnel4", why: "the reference of the TLS proxy benchmark", optional: true },
];

const SEARCH = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];

/** Whether `command` can be run: an absolute path that exists, or a name found on the search path. */
export function found(command) {
  const executable = (file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (path.isAbsolute(command)) return executable(command);
  return SEARCH.some((dir) => dir !== "" && executable(path.join(dir, command)));
}

/** The peers that are missing now (`optional` ones serve benchmarks, not tests). */
export function missingPeers() {
  return PEERS.filter((peer) => !found(peer.command));
}

const unique = (items) => [...new Set(items)];
const POLICY_RC = "/usr/sbin/policy-rc.d";

/**
 * Runs `fn` with /usr/sbin/policy-rc.d answering 101 ("action forbidden"), Debian's way of
 * keeping a package's service from starting while it is installed; puts back what was
 * there before (or removes the file) afterwards, whatever happened.
 */
function withServicesBlocked(fn) {
  let previous;
  try {
    previous = { text: fs.readFileSync(POLICY_RC), mode: fs.statSync(POLICY_RC).mode };
  } catch {
    previous = undefined;
  }
  const restore = () => {
    if (previous) {
      fs.writeFileSync(POLICY_RC, previous.text);
      fs.chmodSync(POLICY_RC, previous.mode);
    } else {
      fs.rmSync(POLICY_RC, { force: true });
    }
  };
  fs.writeFileSync(POLICY_RC, "#!/bin/sh\n# written by unisock's npm test while it installs test peers\nexit 101\n", { mode: 0o755 });
  // An interrupted install ends the process without `finally`: put the file back on exit too.
  process.once("exit", restore);
  try {
    return fn();
  } finally {
    process.off("exit", restore);
    restore();
  }
}

function aptGet(args) {
  const result = spawnSync("apt-get", args, {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}`, error: result.error };
}

/**
 * Makes sure every peer is there. Returns `{ ok: true }` when they all are (installing the
 * missing ones as root with apt-get), or `{ ok: false, message }` with one line naming the
 * packages to install. `log` gets the one line that says what is installed and why.
 */
export function ensurePeers(log = console.log) {
  const missing = missingPeers();
  if (missing.length === 0) return { ok: true };
  const needed = missing.filter((peer) => !peer.optional);
  const packages = unique(missing.map((peer) => peer.pkg));
  const names = unique(missing.map((peer) => path.basename(peer.command)));
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !found("apt-get")) {
    // A benchmark's peer that cannot be installed here does not stop the tests.
    if (needed.length === 0) return { ok: true };
    return {
      ok: false,
      message: `test peers missing (${names.join(", ")}): install the Debian packages ${packages.join(" ")} ` +
        `(apt-get install ${packages.join(" ")}, as root), then run the tests again`,
    };
  }
  log(
    `peers: installing ${packages.join(" ")} with apt-get for the tests' real peers: ` +
      missing.map((peer) => `${path.basename(peer.command)} (${peer.why})`).join(", "),
  );
  const install = ["install", "-y", "-qq", "--no-install-recommends", ...packages];
  const outcome = withServicesBlocked(() => {
    let result = aptGet(install);
    // A fresh machine's package lists may be empty or old: read them, then try once more.
    if (!result.ok) {
      const update = aptGet(["update", "-qq"]);
      if (!update.ok) return update;
      result = aptGet(install);
    }
    return result;
  });
  const still = missingPeers().filter((peer) => !peer.optional);
  if ((!outcome.ok && needed.length > 0) || still.length > 0) {
    const tail = (outcome.error?.message ?? outcome.output).trim().split("\n").slice(-3).join(" | ");
    return {
      ok: false,
      message: `could not install the test peers ${unique(still.map((p) => p.pkg)).join(" ") || packages.join(" ")}: ${tail}`,
    };
  }
  return { ok: true };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--list")) {
    for (const peer of PEERS) {
      console.log(`${found(peer.command) ? "ok     " : "missing"} ${peer.command.padEnd(18)} ${peer.pkg.padEnd(14)} ${peer.why}`);
    }
  } else {
    const result = ensurePeers();
    if (!result.ok) {
      console.error(`peers: ${result.message}`);
      process.exit(1);
    }
    console.log("peers: all there");
  }
}
