/**
 * A real PostgreSQL 15 server for tests (Debian's `postgresql` package; `npm test`
 * installs it, see scripts/peers.mjs): a throw-away cluster in a temp dir, listening on
 * 127.0.0.1 at a free port, password (SCRAM-SHA-256) authentication, and optionally TLS
 * (`ssl = on` with the given certificate; plain connections are still accepted).
 *
 * PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` user and
 * every server command runs through `runuser -u postgres`: the tests must run as root
 * (as they do under `npm test` in CI). Anything else is an error, never a skip.
 *
 * Every wait here is bounded (a command past its time is killed), and `stop()` resolves
 * only once the postmaster and its backends have exited and the temp dir is gone.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { freeTcpPort } from "./openssl.ts";

/** The PostgreSQL 15 programs (Debian puts them off PATH). */
const PG_BIN = "/usr/lib/postgresql/15/bin";
const RUNUSER = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].find((file) => existsSync(file));
/** The cluster's owner, a system user made by the package. */
const OS_USER = "postgres";

/** Bound of `initdb`. */
const INITDB_TIMEOUT_MS = 60_000;
/** `pg_ctl start -t`, and the bound of the whole command. */
const START_WAIT_S = 20;
const START_TIMEOUT_MS = 30_000;
/** `pg_ctl stop -t`, and the bound of the whole command. */
const STOP_WAIT_S = 10;
const STOP_TIMEOUT_MS = 20_000;
/** How long the postmaster may take to disappear after a stop (or a SIGKILL). */
const GONE_TIMEOUT_MS = 5_000;

/** Options of `startPostgres`. */
export interface PostgresOptions {
  /** PEM certificate and key: the server then offers TLS (`ssl = on`), see tests/peers/certs.ts. */
  tls?: { cert: string; key: string };
}

/** A running PostgreSQL server on 127.0.0.1. */
export interface PostgresPeer {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** The superuser that the password authenticates. */
  readonly user: string;
  readonly password: string;
  /** A database that exists (`postgres`). */
  readonly database: string;
  /** Stops the server (`pg_ctl stop -m immediate`), waits until it is gone, removes its files. */
  stop(): Promise<void>;
  /** The same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

interface RunResult {
  code: number | null;
  signal: string | null;
  output: string;
  timedOut: boolean;
}

/** Runs a command to its end, stdin closed, killed (SIGKILL) after `timeoutMs`; rejects only when it cannot start. */
function run(command: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} could not run: ${error.message}`, { cause: error }));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, timedOut });
    });
  });
}

/** `runuser -u postgres -- PG_BIN/program ARGS...`, bounded. */
function asPostgres(program: string, args: string[], timeoutMs: number): Promise<RunResult> {
  if (RUNUSER === undefined) throw new Error("runuser is missing (apt-get install util-linux)");
  return run(RUNUSER, ["-u", OS_USER, "--", join(PG_BIN, program), ...args], timeoutMs);
}

function describeResult(what: string, result: RunResult, timeoutMs: number): string {
  const why = result.timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${result.code ?? result.signal}`;
  return `${what} ${why}:\n${result.output.trim()}`;
}

/** The `postgres` user's uid and gid, from /etc/passwd. */
function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((entry) => entry.startsWith(`${OS_USER}:`));
  const fields = line?.split(":");
  if (fields === undefined || fields.length < 4) {
    throw new Error(`no ${OS_USER} user in /etc/passwd: install PostgreSQL (apt-get install postgresql)`);
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** Why the server cannot run here, or undefined when it can. */
function postgresMissing(): string | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    return "the PostgreSQL test peer needs root (it runs the server as the postgres user with runuser)";
  }
  if (RUNUSER === undefined) return "runuser is missing: apt-get install util-linux";
  for (const program of ["initdb", "pg_ctl", "postgres"]) {
    if (!existsSync(join(PG_BIN, program))) return `${join(PG_BIN, program)} is missing: apt-get install postgresql`;
  }
  return undefined;
}

/** Whether process `pid` has ended (gone, or a zombie no one has reaped yet). */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** The postmaster's pid, from the first line of `postmaster.pid` (undefined when there is none). */
function postmasterPid(data: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!processGone(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/**
 * Stops the cluster in `data` if it runs: `pg_ctl stop -m immediate -w` (the postmaster
 * ends its backends and exits; pg_ctl waits until it has), then, should it still be
 * there, SIGKILL. Throws when the postmaster outlives all of that.
 */
async function stopCluster(data: string, knownPid: number | undefined): Promise<void> {
  const pid = postmasterPid(data) ?? knownPid;
  if (pid === undefined || processGone(pid)) return;
  const args = ["stop", "-D", data, "-m", "immediate", "-w", "-t", String(STOP_WAIT_S)];
  const result = await asPostgres("pg_ctl", args, STOP_TIMEOUT_MS);
  if (await waitGone(pid, GONE_TIMEOUT_MS)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // ended meanwhile
  }
  if (!(await waitGone(pid, GONE_TIMEOUT_MS))) {
    throw new Error(`postgres (pid ${pid}) did not end: ${describeResult("pg_ctl stop", result, STOP_TIMEOUT_MS)}`);
  }
}

/** The settings appended to postgresql.conf (later lines win over initdb's). */
function settings(dir: string, port: number, tls: boolean): string {
  const lines = [
    "",
    "# unisock test peer (tests/peers/postgres.ts)",
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = '${dir}'`,
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 50",
    "logging_collector = off",
    `ssl = ${tls ? "on" : "off"}`,
  ];
  if (tls) lines.push(`ssl_cert_file = '${join(dir, "server.crt")}'`, `ssl_key_file = '${join(dir, "server.key")}'`);
  return `${lines.join("\n")}\n`;
}

/**
 * Makes a cluster in a new temp dir and starts it on 127.0.0.1 at a free port (up to 5
 * ports are tried when one is taken meanwhile); resolves once it accepts connections.
 * Throws, with the server's log, when it cannot (not root, PostgreSQL missing, ...).
 * Use `await using pg = await startPostgres()` or call `stop()`.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresPeer> {
  const missing = postgresMissing();
  if (missing !== undefined) throw new Error(missing);
  const { uid, gid } = postgresIds();
  const user = "unisock";
  const password = `pw-${crypto.randomUUID()}`;
  const database = "postgres";

  const dir = mkdtempSync(join(tmpdir(), "unisock-postgres-"));
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  let pid: number | undefined;
  // A test process that ends without stop(): end the server (SIGQUIT is an immediate
  // shutdown) and remove its files. `deno test` dispatches "unload" instead of "exit".
  const onExit = () => {
    const running = postmasterPid(data) ?? pid;
    if (running !== undefined) {
      try {
        process.kill(running, "SIGQUIT");
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const events = globalThis as {
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: (type: string, listener: () => void) => void;
  };
  const isDeno = "Deno" in globalThis;
  process.once("exit", onExit);
  if (isDeno) events.addEventListener?.("unload", onExit);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      try {
        await stopCluster(data, pid);
      } finally {
        process.off("exit", onExit);
        if (isDeno) events.removeEventListener?.("unload", onExit);
        rmSync(dir, { recursive: true, force: true });
      }
    })();
    return stopped;
  };

  try {
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
    const owned = (name: string, text: string) => {
      const file = join(dir, name);
      writeFileSync(file, text, { mode: 0o600 });
      chownSync(file, uid, gid);
      return file;
    };
    const pwfile = owned("pwfile", `${password}\n`);
    const initdbArgs = [
      "-D", data, "-U", user, `--pwfile=${pwfile}`, "--auth=scram-sha-256",
      "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
    ];
    const initdb = await asPostgres("initdb", initdbArgs, INITDB_TIMEOUT_MS);
    rmSync(pwfile, { force: true });
    if (initdb.code !== 0) throw new Error(describeResult("initdb", initdb, INITDB_TIMEOUT_MS));
    if (options.tls !== undefined) {
      owned("server.crt", options.tls.cert);
      owned("server.key", options.tls.key);
    }
    writeFileSync(
      join(data, "pg_hba.conf"),
      "# unisock test peer: password (SCRAM) on the Unix socket and on 127.0.0.1, TLS or not\n" +
        "local all all scram-sha-256\n" +
        "host all all 127.0.0.1/32 scram-sha-256\n",
    );
    const conf = join(data, "postgresql.conf");
    const initial = readFileSync(conf, "utf8");

    let lastLog = "";
    for (let tries = 0; tries < 5; tries++) {
      const port = await freeTcpPort();
      writeFileSync(conf, initial + settings(dir, port, options.tls !== undefined));
      rmSync(log, { force: true });
      const startArgs = ["start", "-D", data, "-l", log, "-w", "-t", String(START_WAIT_S)];
      const started = await asPostgres("pg_ctl", startArgs, START_TIMEOUT_MS);
      pid = postmasterPid(data);
      lastLog = `${describeResult("pg_ctl start", started, START_TIMEOUT_MS)}\n${readLog(log)}`;
      if (started.code === 0 && pid !== undefined) {
        return { host: "127.0.0.1", port, user, password, database, stop, [Symbol.asyncDispose]: stop };
      }
      await stopCluster(data, pid);
      pid = undefined;
      if (!/could not bind|address already in use/i.test(lastLog)) throw new Error(lastLog);
    }
    throw new Error(`postgres: no free port after 5 tries:\n${lastLog}`);
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

function readLog(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "(no server log)";
  }
}
