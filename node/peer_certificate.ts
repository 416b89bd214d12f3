/**
 * The peer's certificate of a `node:tls` socket in the one shape every runtime reports
 * (`PeerCertificate`): RFC 4514 names, `DNS:`/`IP:`/`email:` alternative names, a bare
 * lower-case SHA-256 fingerprint.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import type tls from "node:tls";
import { parseIp } from "../core/address.ts";
import type { PeerCertificate } from "../core/tls.ts";

/**
 * The verified certificate of the other side of `socket`, parsed, or undefined when it sent none.
 *
 * @example Who the peer is
 * ```ts ignore
 * const certificate = peerX509(socket);
 * console.log(certificate?.subject);
 * ```
 *
 * @param socket A TLS socket whose handshake is done.
 * @returns The certificate, or undefined.
 */
export function peerX509(socket: tls.TLSSocket): X509Certificate | undefined {
  if (typeof socket.getPeerX509Certificate === "function") {
    const certificate = socket.getPeerX509Certificate();
    if (certificate !== undefined) return certificate;
  }
  const legacy = socket.getPeerCertificate();
  if (legacy === null || typeof legacy !== "object" || legacy.raw === undefined) return undefined;
  return new X509Certificate(legacy.raw);
}

/**
 * A parsed certificate in the shape of `PeerCertificate`.
 *
 * @param certificate The certificate.
 * @returns Its description.
 */
export function describeCertificate(certificate: X509Certificate): PeerCertificate {
  const dated = certificate as X509Certificate & { validFromDate?: Date; validToDate?: Date };
  return {
    subject: rfc4514(certificate.subject),
    issuer: rfc4514(certificate.issuer),
    subjectAltNames: altNames(certificate.subjectAltName),
    fingerprint256: certificate.fingerprint256.replace(/:/g, "").toLowerCase(),
    validFrom: dated.validFromDate ?? new Date(certificate.validFrom),
    validTo: dated.validToDate ?? new Date(certificate.validTo),
    der: new Uint8Array(certificate.raw),
  };
}

/**
 * Node prints a name one attribute a line, most general first, values already escaped
 * as RFC 2253 asks; RFC 4514 text is the same attributes, most specific first, with commas.
 */
function rfc4514(multiline: string): string {
  return multiline.split("\n").filter((line) => line !== "").reverse().join(",");
}

const ALT_NAME_PREFIXES: Record<string, string> = { "IP Address": "IP", DNS: "DNS", email: "email", URI: "URI" };

/**
 * `DNS:localhost, IP Address:127.0.0.1, email:a@b.test` as a list; a value holding a
 * comma comes quoted (JSON) from Node 17 on.
 */
function altNames(text: string | undefined): string[] {
  if (text === undefined || text === "") return [];
  const names: string[] = [];
  const entry = /\s*([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)/gy;
  let match: RegExpExecArray | null;
  while (entry.lastIndex < text.length && (match = entry.exec(text)) !== null) {
    const kind = match[1].trim();
    let value = match[2];
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        // Left as printed.
      }
    }
    const prefix = ALT_NAME_PREFIXES[kind] ?? kind;
    if (prefix === "IP") value = parseIp(value)?.address ?? value.toLowerCase();
    names.push(`${prefix}:${value}`);
    if (match[0] === "") break;
  }
  return names;
}
