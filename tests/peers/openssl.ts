/**
 * The `openssl` command line (Debian's OpenSSL 3.0; `npm test` installs the `openssl`
 * package, see scripts/peers.mjs) as a real TLS peer on loopback: `s_server` to test a
 * unisock client against, `s_client` to test a unisock server with, and a bounded runner
 * for one-shot commands (certificates, `openssl verify`).
 *
 * Every wait here is bounded, and every process started here is ended (and its pipes
 * closed) before the promise that owns it settles, so the leak guard sees nothing.
 *
 * @module
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import process from "node:process";

/** The program run: `openssl` on PATH. */
const OPENSSL = "openssl";

/** Default bound of a one-shot command and of `runOpensslClient`. */
const COMMAND_TIMEOUT_MS = 15_000;
/** Default bound of `startOpensslServer`'s wait for the server to listen. */
const READY_TIMEOUT_MS = 10_000;
/** How long a server gets to end after SIGTERM before it is killed. */
const KILL_GRACE_MS = 2_000;

/** What a finished `openssl` left: exit code (null when killed), signal, output, and whether the time ran out. */
export interface OpensslResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** True when the bound was reached and the process was killed (SIGKILL). */
  timedOut: boolean;
}

/** Options of a one-shot `openssl` command. */
export interface OpensslRunOptions {
  /** Written to stdin, which is then closed (stdin is closed at once when absent). */
  input?: string | Uint8Array;
  /** Killed after this long (default 15 s). */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

interface RawResult {
  code: number | null;
  signal: string | null;
  stdout: Uint8Array;
  stderr: string;
  timedOut: boolean;
}

function spawnError(error: Error): Error {
  return new Error(`${OPENSSL} could not run (apt-get install openssl): ${error.message}`, { cause: error });
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function runRaw(args: string[], options: OpensslRunOptions): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(OPENSSL, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: options.env === undefined ? process.env : { ...process.env, ...options.env },
    });
    const stdout: Uint8Array[] = [];
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (chunk: Uint8Array) => stdout.push(chunk));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.stdin.on("error", () => {}); // EPIPE when openssl ends before reading its input
    child.stdin.end(options.input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? COMMAND_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(spawnError(error));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: concat(stdout), stderr, timedOut });
    });
  });
}

/**
 * Runs `openssl ARGS...` to its end, bounded by `timeoutMs` (default 15 s, then SIGKILL).
 * A non-zero exit is reported, not thrown; it rejects only when openssl cannot be started.
 */
export async function runOpenssl(args: string[], options: OpensslRunOptions = {}): Promise<OpensslResult> {
  const result = await runRaw(args, options);
  return { ...result, stdout: new TextDecoder().decode(result.stdout) };
}

/**
 * Runs `openssl ARGS...` and returns its stdout as bytes (DER comes out this way); throws,
 * with the command and openssl's stderr, when it exits non-zero or runs out of time.
 */
export async function opensslOutput(args: string[], options: OpensslRunOptions = {}): Promise<Uint8Array> {
  const result = await runRaw(args, options);
  if (result.code !== 0) {
    const why = result.timedOut ? `timed out after ${options.timeoutMs ?? COMMAND_TIMEOUT_MS} ms` : `exited with ${result.code ?? result.signal}`;
    throw new Error(`openssl ${args.join(" ")}: ${why}\n${result.stderr.trim()}`);
  }
  return result.stdout;
}

// ---------------------------------------------------------------------------
// s_server
// ---------------------------------------------------------------------------

/** Options of `startOpensslServer`. File paths are PEM files (see tests/peers/certs.ts). */
export interface OpensslServerOptions {
  /** `-cert`, `-key`: the server's certificate and key. */
  certFile: string;
  keyFile: string;
  /** `-CAfile`: issuers trusted for client certificates (and named in the CertificateRequest). */
  caFile?: string;
  /**
   * Ask for a client certificate: `"request"` is `-verify 1` (a client without one is
   * accepted), `"require"` is `-Verify 1` (one without is refused). Both add
   * `-verify_return_error`, so an untrusted client certificate fails the handshake
   * (without it s_server only logs the error and goes on). Absent: none is asked for.
   */
  verify?: "request" | "require";
  /** `-alpn a,b`: the protocols the server accepts, in its order of preference. */
  alpn?: string[];
  /** `-tls1_3`: TLS 1.3 only. */
  tls13Only?: boolean;
  /** `-tls1_2`: TLS 1.2 only. */
  tls12Only?: boolean;
  /** `-servername NAME -cert2 F -key2 F`: a second certificate, served to clients whose SNI is `serverName`. */
  sni?: { serverName: string; certFile: string; keyFile: string };
  /**
   * What the server does with a connection (one at a time, in order of arrival, until closed):
   * - `"rev"` (default): `-rev`, sends back each line reversed (`hello\n` → `olleh\n`); a line
   *   starting with `CLOSE` makes it close the connection (close_notify).
   * - `"echo-lines"`: sends back every byte it receives: s_server's plain mode with `-quiet`
   *   (stdout is then the received data only, and stdin lines are not commands), with its
   *   stdout fed back into its stdin. Bytes still on their way back when a client leaves go
   *   to the next client.
   * - `"quiet"`: s_server's plain mode: completes the handshake, sends nothing, and logs the
   *   session (protocol, cipher, client certificate subject) and the data received to `output()`.
   */
  mode?: "rev" | "echo-lines" | "quiet";
  /** More s_server arguments, appended as they are. */
  extraArgs?: string[];
  /** Bound of the wait until it listens (default 10 s). */
  readyTimeoutMs?: number;
}

/** A running `openssl s_server` on 127.0.0.1. */
export interface OpensslServer {
  /** The TCP port it accepts on (on 127.0.0.1). */
  readonly port: number;
  /** The arguments it was started with. */
  readonly args: readonly string[];
  /** All it printed so far, stdout then stderr. */
  output(): string;
  /** Ends it (SIGTERM, SIGKILL after 2 s) and waits until it has exited and its pipes closed. */
  close(): Promise<void>;
  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A loopback TCP port free right now: bound on port 0 with node:net, read, released. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port === 0 ? reject(new Error("no port from node:net")) : resolve(port)));
    });
  });
}

function serverArgs(options: OpensslServerOptions, port: number): string[] {
  const mode = options.mode ?? "rev";
  const args = ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", options.certFile, "-key", options.keyFile];
  if (options.caFile !== undefined) args.push("-CAfile", options.caFile);
  if (options.verify !== undefined) args.push(options.verify === "require" ? "-Verify" : "-verify", "1", "-verify_return_error");
  if (options.alpn !== undefined) args.push("-alpn", options.alpn.join(","));
  if (options.tls13Only) args.push("-tls1_3");
  if (options.tls12Only) args.push("-tls1_2");
  if (options.sni !== undefined) {
    args.push("-servername", options.sni.serverName, "-cert2", options.sni.certFile, "-key2", options.sni.keyFile);
  }
  if (mode === "rev") args.push("-rev");
  if (mode === "echo-lines") args.push("-quiet");
  args.push(...(options.extraArgs ?? []));
  return args;
}

/** Whether a TCP socket listens on 127.0.0.1:`port` (Linux `/proc/net/tcp`, state 0A). */
function listening(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  try {
    return readFileSync("/proc/net/tcp", "utf8").split("\n").some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1] === local && fields[3] === "0A";
    });
  } catch {
    return false;
  }
}

function ended(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Ends `child` (SIGTERM, then SIGKILL after a grace) and resolves once it has exited and its pipes closed. */
function stopProcess(child: ChildProcess, closed: Promise<void>): Promise<void> {
  child.stdin?.end();
  if (!ended(child)) child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (!ended(child)) child.kill("SIGKILL");
  }, KILL_GRACE_MS);
  return closed.finally(() => clearTimeout(timer));
}

/**
 * Starts `openssl s_server` on 127.0.0.1 at a free port (tries up to 5 ports when one is
 * taken meanwhile) and waits, bounded, until it listens: until it prints `ACCEPT` (modes
 * `"rev"` and `"quiet"`), or, under `-quiet` (which prints nothing), until the port shows
 * up as listening in /proc/net/tcp. It serves connections one at a time until closed;
 * use `await using server = await startOpensslServer(...)` or call `close()`.
 */
export async function startOpensslServer(options: OpensslServerOptions): Promise<OpensslServer> {
  const mode = options.mode ?? "rev";
  let lastOutput = "";
  for (let tries = 0; tries < 5; tries++) {
    const port = await freeTcpPort();
    const args = serverArgs(options, port);
    const child = spawn(OPENSSL, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let spawnFailure: Error | undefined;
    const closed = new Promise<void>((resolve) => {
      child.once("error", (error) => {
        spawnFailure = spawnError(error);
        resolve();
      });
      child.once("close", () => resolve());
    });
    child.stdin.on("error", () => {});
    const decoder = new TextDecoder();
    child.stdout.on("data", (chunk: Uint8Array) => {
      stdout += decoder.decode(chunk, { stream: true });
      if (mode === "echo-lines" && child.stdin.writable) child.stdin.write(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    let exited = false;
    void closed.then(() => (exited = true));

    const deadline = Date.now() + (options.readyTimeoutMs ?? READY_TIMEOUT_MS);
    let ready = false;
    while (!exited && Date.now() < deadline) {
      if (mode === "echo-lines" ? listening(port) : /^ACCEPT$/m.test(stdout)) {
        ready = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (ready) {
      const close = () => stopProcess(child, closed);
      return { port, args, output: () => stdout + stderr, close, [Symbol.asyncDispose]: close };
    }
    await stopProcess(child, closed);
    if (spawnFailure !== undefined) throw spawnFailure;
    lastOutput = stdout + stderr;
    if (!/Address already in use/i.test(lastOutput)) {
      const why = exited ? "ended before listening" : `did not listen within ${options.readyTimeoutMs ?? READY_TIMEOUT_MS} ms`;
      throw new Error(`openssl ${args.join(" ")} ${why}:\n${lastOutput.trim()}`);
    }
  }
  throw new Error(`openssl s_server: no free port after 5 tries:\n${lastOutput.trim()}`);
}

// ---------------------------------------------------------------------------
// s_client
// ---------------------------------------------------------------------------

/** Options of `runOpensslClient`. File paths are PEM files (see tests/peers/certs.ts). */
export interface OpensslClientOptions {
  /** `-connect HOST:PORT`; `host` defaults to 127.0.0.1 (an IPv6 literal is bracketed). */
  port: number;
  host?: string;
  /** `-servername NAME`: the SNI sent, and the name verified. Absent: none is sent for an IP host. */
  serverName?: string;
  /**
   * `-CAfile F -no-CApath -no-CAstore`: only these issuers are trusted. With it (unless
   * `verify` is false) the client also gets `-verify_return_error` (an unverified server
   * fails the handshake, exit code 1; without it s_client only reports and goes on) and
   * `-verify_hostname NAME` (`serverName`, else a name `host`) or `-verify_ip IP` (an IP
   * `host` and no `serverName`), since s_client checks no name unless told.
   */
  caFile?: string;
  /** Set false to keep `-CAfile` but not fail on verification errors (default: true with `caFile`). */
  verify?: boolean;
  /** `-cert F -key F`: a client certificate. */
  certFile?: string;
  keyFile?: string;
  /** `-alpn a,b`: the protocols offered. */
  alpn?: string[];
  /** `-tls1_3`: TLS 1.3 only. */
  tls13Only?: boolean;
  /** `-tls1_2`: TLS 1.2 only. */
  tls12Only?: boolean;
  /** `-starttls PROTO` (smtp, imap, pop3, ftp, xmpp, postgres, ...): the plaintext exchange before TLS. */
  starttls?: string;
  /** Text written to stdin at once; s_client sends it, as it is, once the handshake is done. */
  input?: string;
  /**
   * Keep stdin open until stdout contains this text (the server's answer), then close it:
   * s_client then sends close_notify and exits. Without it stdin is closed right after
   * `input`, and s_client exits then (after the handshake) unless `ignEof`.
   */
  until?: string;
  /** `-ign_eof`: after stdin ends, keep reading until the server closes the connection. */
  ignEof?: boolean;
  /**
   * - `"brief"` (default): `-brief`. stdout is exactly the data received from the server;
   *   stderr has a summary (`Protocol version: TLSv1.3`, `Ciphersuite: ...`,
   *   `Peer certificate: CN = localhost`, `Verification: OK`, `Verified peername: ...`),
   *   the verification errors and `DONE`. It does not show ALPN.
   * - `"full"`: s_client's usual stdout: the certificate chain, `subject=`, `New, TLSv1.3,
   *   Cipher is ...`, `ALPN protocol: x` (or `No ALPN negotiated`), `Verify return code: 0 (ok)`,
   *   the sessions (TLS 1.3 tickets arrive after the handshake) and the data received. The
   *   data is written unbuffered and the rest buffered, so it can land in the middle of a
   *   line of that text: check data in `"brief"`, and use `"full"` for the handshake.
   */
  output?: "brief" | "full";
  /** More s_client arguments, appended as they are. */
  extraArgs?: string[];
  /** Killed (SIGKILL) after this long (default 15 s); the result then has `timedOut`. */
  timeoutMs?: number;
}

function isIp(host: string): boolean {
  return net.isIP(host) !== 0;
}

/** The s_client arguments `runOpensslClient` uses for `options`. */
export function opensslClientArgs(options: OpensslClientOptions): string[] {
  const host = options.host ?? "127.0.0.1";
  const hostPort = net.isIPv6(host) ? `[${host}]:${options.port}` : `${host}:${options.port}`;
  // -nocommands: a line of input that starts with Q, R, k or K is sent, not taken as a command.
  const args = ["s_client", "-connect", hostPort, "-nocommands"];
  if ((options.output ?? "brief") === "brief") args.push("-brief");
  if (options.serverName !== undefined) args.push("-servername", options.serverName);
  if (options.caFile !== undefined) {
    args.push("-CAfile", options.caFile, "-no-CApath", "-no-CAstore");
    if (options.verify !== false) {
      args.push("-verify_return_error");
      if (options.serverName !== undefined) args.push("-verify_hostname", options.serverName);
      else if (isIp(host)) args.push("-verify_ip", host);
      else args.push("-verify_hostname", host);
    }
  }
  if (options.certFile !== undefined) args.push("-cert", options.certFile);
  if (options.keyFile !== undefined) args.push("-key", options.keyFile);
  if (options.alpn !== undefined) args.push("-alpn", options.alpn.join(","));
  if (options.tls13Only) args.push("-tls1_3");
  if (options.tls12Only) args.push("-tls1_2");
  if (options.starttls !== undefined) args.push("-starttls", options.starttls);
  if (options.ignEof) args.push("-ign_eof");
  args.push(...(options.extraArgs ?? []));
  return args;
}

/**
 * Runs `openssl s_client` against a server (see `opensslClientArgs` for the flags) and
 * resolves once it has exited, with its exit code (0: handshake done and, with `caFile`,
 * the server verified; 1: it failed), stdout and stderr (see `output` for what each
 * holds). Bounded by `timeoutMs` (then killed, `timedOut` set).
 */
export function runOpensslClient(options: OpensslClientOptions): Promise<OpensslResult> {
  const args = opensslClientArgs(options);
  return new Promise((resolve, reject) => {
    const child = spawn(OPENSSL, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const until = options.until;
    child.stdin.on("error", () => {});
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
      if (until !== undefined && stdout.includes(until)) child.stdin.end();
    });
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    if (until === undefined) child.stdin.end(options.input);
    else if (options.input !== undefined) child.stdin.write(options.input);
    const limit = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, limit);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(spawnError(error));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
