import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { testCertificates } from "./peers/certs.ts";
import type { TestCertificates } from "./peers/certs.ts";
import { startPostgres } from "./peers/postgres.ts";
import type { PostgresPeer } from "./peers/postgres.ts";

const PSQL = "/usr/lib/postgresql/15/bin/psql";
const PSQL_TIMEOUT_MS = 15_000;

interface PsqlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `psql -X -At -c SQL` against the peer with libpq `conninfo` added, bounded (SIGKILL after 15 s). */
function psql(peer: PostgresPeer, conninfo: string, sql: string, password = peer.password): Promise<PsqlResult> {
  const target = `host=localhost hostaddr=${peer.host} port=${peer.port} user=${peer.user} dbname=${peer.database} connect_timeout=10 ${conninfo}`;
  return new Promise((resolve, reject) => {
    const child = spawn(PSQL, ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, target], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), PSQL_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
    });
  });
}

/** Resolves with the error code of a TCP connect to 127.0.0.1:`port` (or "connected"). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: Error & { code?: string }) => resolve(error.code ?? error.message));
  });
}

describe("PostgreSQL peer (self-check)", () => {
  let certs: TestCertificates;
  let peer: PostgresPeer | undefined;

  before(async () => {
    certs = await testCertificates();
    peer = await startPostgres({ tls: { cert: certs.server.cert, key: certs.server.key } });
  });

  after(async () => {
    await peer?.stop();
  });

  it("answers a query over TLS, verified against the test CA (verify-full)", async () => {
    assert.ok(peer);
    assert.equal(peer.host, "127.0.0.1");
    const result = await psql(
      peer,
      `sslmode=verify-full sslrootcert=${certs.ca.certFile}`,
      "select 6 * 7, (select ssl from pg_stat_ssl where pid = pg_backend_pid()), current_user",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `42|t|${peer.user}`);
  });

  it("also accepts plain connections, where pg_stat_ssl says false", async () => {
    assert.ok(peer);
    const result = await psql(peer, "sslmode=disable", "select ssl from pg_stat_ssl where pid = pg_backend_pid()");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "f");
  });

  it("asks for the password (SCRAM) on 127.0.0.1", async () => {
    assert.ok(peer);
    const result = await psql(peer, "sslmode=require", "select 1", "not-the-password");
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /password authentication failed/);
    const method = await psql(peer, "sslmode=require", "show password_encryption");
    assert.equal(method.stdout, "scram-sha-256");
  });

  it("refuses connections once stop() has resolved", async () => {
    const started = await startPostgres();
    const ok = await psql(started, "sslmode=disable", "select 1");
    assert.equal(ok.code, 0, ok.stderr);
    // Without TLS configured the server refuses a TLS connection.
    const tls = await psql(started, "sslmode=require", "select 1");
    assert.notEqual(tls.code, 0);
    await started.stop();
    assert.equal(await tryConnect(started.port), "ECONNREFUSED");
    await started.stop(); // a second stop is a no-op
  });
});
