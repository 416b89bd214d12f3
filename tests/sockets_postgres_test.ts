/**
 * A real client on the Sockets API: postgres.js's Cloudflare build, unmodified (it imports
 * `cloudflare:sockets`), against Debian's PostgreSQL with TLS on. The client runs as a
 * child process of the runtime that runs this test, with `sockets/register.ts` preloaded
 * (`--import` on Node, `--preload` on Deno and Bun) and the test CA trusted through the
 * environment, as a user would run it: tests/peers/postgres_client.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import { runProcess } from "./helpers.ts";
import { testCertificates } from "./peers/certs.ts";
import { startPostgres } from "./peers/postgres.ts";
import type { PostgresPeer } from "./peers/postgres.ts";

const CLIENT = new URL("./peers/postgres_client.ts", import.meta.url).pathname;
const REGISTER = new URL("../sockets/register.ts", import.meta.url).pathname;
const CLIENT_LIMIT_MS = 60_000;
const ROWS = 20_000;

/** What the client printed: a result, or the error postgres.js gave. */
interface ClientResult {
  ok: boolean;
  ssl?: boolean;
  version?: string | null;
  rows?: number;
  sum?: number;
  error?: string;
  code?: string | null;
  /** Rejections no one handled in the client (postgres.js's own, when a query fails). */
  unhandled: string[];
}

/** The command that runs `file` on this runtime with the register module preloaded. */
function preloaded(file: string, argument: string): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno !== undefined) return [deno.execPath(), ["run", "-A", "--no-lock", "--preload", REGISTER, file, argument]];
  if ((globalThis as { Bun?: unknown }).Bun !== undefined) return [process.execPath, ["--preload", REGISTER, file, argument]];
  return [process.execPath, ["--import", REGISTER, file, argument]];
}

describe("postgres.js (Cloudflare build) over the Sockets API, against PostgreSQL", () => {
  let pg: PostgresPeer;
  let dir: string;
  let caFile: string;

  before(async () => {
    const certs = await testCertificates();
    dir = mkdtempSync(join(tmpdir(), "unisock-pg-client-"));
    caFile = join(dir, "ca.pem");
    writeFileSync(caFile, certs.ca.cert);
    pg = await startPostgres({ tls: { cert: certs.server.cert, key: certs.server.key } });
  });

  after(async () => {
    await pg?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function query(ssl: false | "require", trust: boolean): Promise<ClientResult> {
    const job = JSON.stringify({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database, ssl, rows: ROWS });
    const [command, args] = preloaded(CLIENT, job);
    const env: Record<string, string> = trust ? { NODE_EXTRA_CA_CERTS: caFile, DENO_CERT: caFile } : {};
    const result = await runProcess(command, args, env, CLIENT_LIMIT_MS);
    const line = result.stdout.trim().split("\n").at(-1) ?? "";
    assert.equal(result.code, 0, `client exit ${result.code}\n${result.stdout}\n${result.stderr}`);
    return JSON.parse(line) as ClientResult;
  }

  it("plaintext: a query, and 20,000 rows read in full", async () => {
    const result = await query(false, true);
    assert.equal(result.ok, true, result.error ?? "");
    assert.deepEqual(result.unhandled, []);
    assert.equal(result.ssl, false);
    assert.equal(result.rows, ROWS);
    assert.equal(result.sum, (ROWS * (ROWS + 1)) / 2);
  });

  it('ssl: "require" upgrades with startTls: pg_stat_ssl says TLS, and 20,000 rows arrive', async () => {
    const result = await query("require", true);
    assert.equal(result.ok, true, result.error ?? "");
    assert.deepEqual(result.unhandled, []);
    assert.equal(result.ssl, true, "pg_stat_ssl.ssl of the session");
    assert.match(result.version ?? "", /^TLSv1\.[23]$/);
    assert.equal(result.rows, ROWS);
    assert.equal(result.sum, (ROWS * (ROWS + 1)) / 2);
  });

  it('ssl: "require" with the test CA not trusted: the upgrade fails with tls-certificate-untrusted', async () => {
    const result = await query("require", false);
    assert.equal(result.ok, false);
    assert.equal(result.code, "tls-certificate-untrusted", result.error ?? "");
    assert.match(result.error ?? "", /^TypeError: SocketError: /);
  });
});
