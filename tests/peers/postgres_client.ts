/**
 * An unmodified postgres.js (its Cloudflare build, which imports `cloudflare:sockets`)
 * as a real client of unisock's Sockets API. Run by tests/sockets_postgres_test.ts as a
 * child process with `sockets/register.ts` preloaded and the test CA trusted through the
 * environment (`NODE_EXTRA_CA_CERTS`, `DENO_CERT`), because that is how a user runs it.
 *
 * Input: one JSON argument `{ host, port, user, password, database, ssl, rows }`.
 * Output: one JSON line `{ ok, ssl, version, rows, sum, unhandled }` on stdout, or
 * `{ ok: false, error, code, unhandled }`.
 *
 * @module
 */
import process from "node:process";
import type postgresTypes from "postgres";

/** The Cloudflare build by path: its package exports pick it only under `workerd`. */
const CLOUDFLARE_BUILD = new URL("../../node_modules/postgres/cf/src/index.js", import.meta.url).href;
const postgres = ((await import(CLOUDFLARE_BUILD)) as { default: typeof postgresTypes }).default;

interface Job {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ssl: false | "require";
  rows: number;
}

// postgres.js leaves one promise of a failed query without a handler (a derived promise of
// its Query, seen when the upgrade fails); it is reported, not allowed to end the process.
const unhandled: string[] = [];
process.on("unhandledRejection", (reason) => unhandled.push(String(reason)));

const job = JSON.parse(process.argv[process.argv.length - 1]) as Job;
const sql = postgres({
  host: job.host,
  port: job.port,
  user: job.user,
  password: job.password,
  database: job.database,
  ssl: job.ssl,
  max: 1,
  connect_timeout: 10,
  idle_timeout: 1,
});
try {
  const [session] = await sql`select ssl, version from pg_stat_ssl where pid = pg_backend_pid()`;
  const rows = await sql`select n, repeat('x', 20) as pad from generate_series(1, ${job.rows}::int) as n`;
  let sum = 0;
  for (const row of rows) sum += Number(row.n);
  console.log(JSON.stringify({ ok: true, ssl: session.ssl, version: session.version, rows: rows.length, sum, unhandled }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error), code: (error as { code?: unknown }).code ?? null, unhandled }));
} finally {
  await sql.end({ timeout: 5 });
}
