/**
 * DNS over HTTPS (RFC 8484) over HTTP/2 with `node:http2` (on Node, and in Deno's and
 * Bun's `node:` compatibility): one session per server, each query a POST of
 * `application/dns-message` on a stream of its own, many streams at once.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import http2 from "node:http2";
import tls from "node:tls";
import { codeFromErrno, errnoOf } from "../../core/errno.ts";
import { socketError } from "../../core/errors.ts";
import type { SocketError } from "../../core/errors.ts";
import { tlsErrorCode } from "../../node/tls_errors.ts";
import { ConnectionLost, encodePaddedQuery, IDLE_CLOSE_MS, noAnswer, unreachable } from "./encrypted.ts";
import type { ChannelContext, EncryptedChannel, EncryptedQuery } from "./encrypted.ts";
import { answersQuery, decodeResponse } from "./packet.ts";
import type { DecodedResponse } from "./packet.ts";

const MEDIA_TYPE = "application/dns-message";
const LARGEST_MESSAGE = 65_535;
/** Streams at once on one session when the server allows more (or says nothing). */
const MAX_STREAMS = 256;

/**
 * Opens a DNS-over-HTTPS channel to `context.server`: an HTTP/2 session, started at once.
 *
 * @param context The server and the trusted issuers (the driver is not used: HTTP/2 runs on `node:http2`'s own TLS).
 * @returns The channel.
 */
export function dohChannel(context: ChannelContext): EncryptedChannel {
  return new DohChannel(context);
}

class DohChannel implements EncryptedChannel {
  readonly #context: ChannelContext;
  #session: http2.ClientHttp2Session | undefined;
  #ready: Promise<http2.ClientHttp2Session> | undefined;
  #failure: SocketError | undefined;
  #done = false;
  #why = "the server closed the connection";
  #inFlight = new Set<() => void>();
  /** Streams open or about to be; at most the server's SETTINGS_MAX_CONCURRENT_STREAMS (Bun's client does not wait for a free one). */
  #active = 0;
  #waiting: (() => void)[] = [];
  #idle: ReturnType<typeof setTimeout> | undefined;
  #released!: () => void;
  #closedOnce = false;
  /** The request headers, by content-length (padded queries have few lengths): built once. */
  readonly #headers = new Map<number, http2.OutgoingHttpHeaders>();
  readonly closed: Promise<void> = new Promise((resolve) => (this.#released = resolve));

  constructor(context: ChannelContext) {
    this.#context = context;
  }

  get done(): boolean {
    return this.#done;
  }

  async ask(query: EncryptedQuery): Promise<DecodedResponse> {
    if (this.#idle !== undefined) {
      clearTimeout(this.#idle);
      this.#idle = undefined;
    }
    this.#ready ??= this.#connect(query.timeoutMs);
    let session: http2.ClientHttp2Session;
    try {
      session = await this.#ready;
    } catch (error) {
      if (error instanceof ConnectionLost) throw error;
      throw unreachable(error, this.#context.server, query.name);
    }
    if (this.#done || session.closed || session.destroyed) throw new ConnectionLost(this.#why);
    const limit = Math.min(session.remoteSettings?.maxConcurrentStreams ?? MAX_STREAMS, MAX_STREAMS);
    if (this.#active >= limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
      if (this.#done || session.closed || session.destroyed) {
        this.#release();
        throw new ConnectionLost(this.#why);
      }
    } else this.#active++;
    return this.#request(session, query);
  }

  /** A stream is done: the next waiting query takes its place. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#active--;
  }

  close(): void {
    this.#end("the connection was closed");
  }

  #connect(timeoutMs: number): Promise<http2.ClientHttp2Session> {
    const { server, ca } = this.#context;
    const host = server.host.includes(":") ? `[${server.host}]` : server.host;
    const identity = server.identity;
    return new Promise((resolve, reject) => {
      let connected = false;
      const session = http2.connect(`https://${host}:${server.port}`, {
        ca,
        servername: server.serverName,
        minVersion: "TLSv1.2",
        rejectUnauthorized: true,
        checkServerIdentity: (_host: string, certificate: tls.PeerCertificate) => tls.checkServerIdentity(identity, certificate),
      });
      this.#session = session;
      const timer = setTimeout(() => {
        const error = socketError("timeout", "tls.connect", server.text, `no HTTP/2 session within ${timeoutMs} ms`);
        this.#failure = error;
        reject(error);
        this.#end("connecting timed out");
      }, timeoutMs);
      // Ready once connected and the server's SETTINGS are in (Bun reports "connect" first),
      // so that its limit of concurrent streams is known before the first request.
      let steps = 0;
      const step = (): void => {
        if (++steps < 2) return;
        clearTimeout(timer);
        connected = true;
        if (this.#done) {
          reject(new ConnectionLost(this.#why));
          return;
        }
        this.#context.onConnected();
        resolve(session);
      };
      session.once("connect", step);
      session.once("remoteSettings", step);
      session.on("error", (error: unknown) => {
        this.#failure ??= sessionError(error, server.text);
        if (!connected) {
          clearTimeout(timer);
          reject(this.#failure);
        }
        this.#end(`the HTTP/2 session failed: ${this.#failure.message}`);
      });
      session.once("goaway", () => {
        // No new streams on it: later queries open a new session; streams in flight may finish.
        this.#done = true;
        this.#why = "the server sent GOAWAY";
      });
      session.once("close", () => {
        clearTimeout(timer);
        if (!connected) reject(this.#failure ?? new ConnectionLost("the server closed the connection during the handshake"));
        this.#end("the server closed the connection");
        this.#closedOnce = true;
        this.#released();
      });
    });
  }

  #headersFor(length: number): http2.OutgoingHttpHeaders {
    let headers = this.#headers.get(length);
    if (headers === undefined) {
      headers = { ":method": "POST", ":path": this.#context.server.path, "content-type": MEDIA_TYPE, accept: MEDIA_TYPE, "content-length": String(length) };
      this.#headers.set(length, headers);
    }
    return headers;
  }

  /** Asks on a stream of its own; releases the stream's place (`#release`) once settled. */
  #request(session: http2.ClientHttp2Session, query: EncryptedQuery): Promise<DecodedResponse> {
    const { server } = this.#context;
    // RFC 8484 §4.1: ID 0, so that equal questions give equal requests.
    const message = encodePaddedQuery(0, query.name, query.type);
    return new Promise<DecodedResponse>((resolve, reject) => {
      let settled = false;
      let body: Uint8Array | undefined;
      let chunks: Uint8Array[] | undefined;
      let length = 0;
      let status = 0;
      let contentType = "";
      let stream: http2.ClientHttp2Stream;
      const finish = (error: unknown, response?: DecodedResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#inFlight.delete(lost);
        this.#release();
        this.#maybeIdle();
        if (error === undefined) resolve(response as DecodedResponse);
        else reject(error);
      };
      const lost = (): void => {
        finish(new ConnectionLost(this.#why));
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      const timer = setTimeout(() => {
        finish(noAnswer(server, query.name, query.timeoutMs));
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      }, query.timeoutMs);
      try {
        stream = session.request(this.#headersFor(message.length));
      } catch (error) {
        clearTimeout(timer);
        settled = true;
        this.#release();
        reject(new ConnectionLost(`no new stream: ${error instanceof Error ? error.message : error}`));
        return;
      }
      this.#inFlight.add(lost);
      stream.on("response", (headers) => {
        status = Number(headers[":status"]);
        contentType = String(headers["content-type"] ?? "");
      });
      stream.on("data", (chunk: Uint8Array) => {
        length += chunk.length;
        if (length > LARGEST_MESSAGE) {
          finish(socketError("permanent-resolver-failure", "resolve", query.name, `${server.text} sent an answer over ${LARGEST_MESSAGE} octets`));
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        if (body === undefined) body = chunk;
        else (chunks ??= [body]).push(chunk);
      });
      stream.on("end", () => {
        if (status !== 200) {
          finish(socketError("temporary-resolver-failure", "resolve", query.name, `${server.text} answered HTTP ${status}`));
          return;
        }
        if (contentType.split(";")[0].trim().toLowerCase() !== MEDIA_TYPE) {
          finish(socketError("permanent-resolver-failure", "resolve", query.name, `${server.text} answered with content-type ${JSON.stringify(contentType)}`));
          return;
        }
        const whole = chunks !== undefined ? Buffer.concat(chunks) : body ?? new Uint8Array(0);
        let response: DecodedResponse;
        try {
          response = decodeResponse(new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength), query.name);
        } catch (error) {
          finish(error);
          return;
        }
        if (!answersQuery(response, 0, query.name, query.type)) {
          query.onDropped();
          finish(socketError("permanent-resolver-failure", "resolve", query.name, `${server.text} answered another question`));
          return;
        }
        finish(undefined, response);
      });
      stream.on("error", () => {
        // The session's end (or a refused stream) ends the stream: ask again on a new session.
        const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
        if (refused || this.#done || session.closed || session.destroyed) finish(new ConnectionLost(this.#why));
        else finish(socketError("temporary-resolver-failure", "resolve", query.name, `${server.text}: the HTTP/2 stream failed (code ${stream.rstCode})`));
      });
      stream.on("close", () => {
        if (settled) return;
        const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
        if (refused || this.#done || session.closed || session.destroyed) finish(new ConnectionLost(this.#why));
        else finish(socketError("temporary-resolver-failure", "resolve", query.name, `${server.text} reset the HTTP/2 stream (code ${stream.rstCode})`));
      });
      stream.end(message);
    });
  }

  #maybeIdle(): void {
    if (this.#inFlight.size > 0) return;
    if (this.#done) {
      // After GOAWAY, the last stream's end ends the session.
      if (this.#session !== undefined && !this.#session.destroyed) this.#session.destroy();
      return;
    }
    if (this.#idle !== undefined) return;
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#inFlight.size === 0) this.#end("the connection was idle");
    }, IDLE_CLOSE_MS);
  }

  #end(why: string): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
    const first = !this.#done || this.#why.startsWith("the server sent GOAWAY");
    this.#done = true;
    if (first) this.#why = why;
    for (const lost of [...this.#inFlight]) lost();
    for (const waiting of this.#waiting.splice(0)) {
      this.#active++;
      waiting();
    }
    const session = this.#session;
    if (session === undefined) {
      this.#released();
      return;
    }
    if (!session.destroyed) session.destroy();
    if (this.#closedOnce) this.#released();
  }
}

/** A session error as a SocketError: a TLS code, or the errno's. */
function sessionError(error: unknown, target: string): SocketError {
  const errno = errnoOf(error);
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  const code = tlsErrorCode(errno) ?? tlsErrorCode(errnoOf(cause)) ?? codeFromErrno(errno);
  const text = (error instanceof Error ? error.message : String(error)).replace(/; if the root CA is installed locally.*$/s, "");
  return socketError(code === "unknown" && /tls|ssl|alpn|h2/i.test(text) ? "tls-handshake-failed" : code, "tls.connect", target, text, error);
}
