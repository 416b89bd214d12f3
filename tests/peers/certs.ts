/**
 * Test certificates, made by the `openssl` command line (OpenSSL 3.0) in a fresh temp dir
 * once per process and removed when the process exits. Nothing is fetched or checked in.
 *
 * All keys are EC P-256 (PKCS#8 PEM, unencrypted). Two CAs:
 *   ca            CN=unisock test CA: signs server, other, expired, client
 *   untrustedCa   CN=unisock untrusted CA: signs untrusted, untrustedClient; nobody trusts it
 * Leaf certificates (basicConstraints CA:FALSE, keyUsage digitalSignature):
 *   server           CN=localhost; SAN DNS:localhost, DNS:server.test, IP:127.0.0.1, IP:::1; serverAuth
 *   other            CN=other.test; SAN DNS:other.test; serverAuth (SNI and wrong-name tests)
 *   untrusted        CN=localhost; SAN DNS:localhost, IP:127.0.0.1; serverAuth; by untrustedCa
 *   selfSigned       CN=localhost; SAN DNS:localhost, IP:127.0.0.1; serverAuth; self-signed
 *   expired          CN=localhost; SAN DNS:localhost, IP:127.0.0.1; serverAuth; by ca, valid
 *                    2020-01-01T00:00:00Z to 2020-01-02T00:00:00Z
 *   client           subject "CN=alice,O=Example" (RFC 4514); SAN email:alice@example.test; clientAuth
 *   untrustedClient  the same, by untrustedCa
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { opensslOutput } from "./openssl.ts";

/** One certificate with its key: PEM text, the files holding them, and what openssl reports of it. */
export interface TestCertificate {
  /** PEM of the certificate. */
  cert: string;
  /** PEM of its private key (PKCS#8, unencrypted). */
  key: string;
  certFile: string;
  keyFile: string;
  /** Subject in RFC 4514 order (`openssl x509 -nameopt RFC2253`), e.g. `CN=alice,O=Example`. */
  subject: string;
  /** Issuer, the same way. */
  issuer: string;
  /** SHA-256 of the DER, 64 lower-case hex digits (`openssl x509 -fingerprint -sha256`). */
  fingerprint256: string;
  /** The certificate's DER bytes (`openssl x509 -outform DER`). */
  der: Uint8Array;
  /** notBefore and notAfter. */
  validFrom: Date;
  validTo: Date;
}

/** Every test certificate, and the temp dir that holds their files. */
export interface TestCertificates {
  dir: string;
  /** The CA the tests trust (CN=unisock test CA); its `key` is the CA key. */
  ca: TestCertificate;
  /** A second CA (CN=unisock untrusted CA) that nobody trusts. */
  untrustedCa: TestCertificate;
  server: TestCertificate;
  other: TestCertificate;
  untrusted: TestCertificate;
  selfSigned: TestCertificate;
  expired: TestCertificate;
  client: TestCertificate;
  untrustedClient: TestCertificate;
}

/** The extensions of each kind, and `openssl ca`'s settings (used for the expired one only). */
function config(dir: string): string {
  const leaf = "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nsubjectKeyIdentifier = hash\n";
  return `
[ req ]
distinguished_name = dn
prompt = no
[ dn ]

[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ server_ext ]
${leaf}authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:server.test, IP:127.0.0.1, IP:::1

[ other_ext ]
${leaf}authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.test

[ localhost_ext ]
${leaf}authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1

[ self_ext ]
${leaf}extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1

[ client_ext ]
${leaf}authorityKeyIdentifier = keyid
extendedKeyUsage = clientAuth
subjectAltName = email:alice@example.test

[ ca ]
default_ca = test_ca
[ test_ca ]
database = ${join(dir, "index.txt")}
new_certs_dir = ${dir}
rand_serial = yes
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[ policy_any ]
commonName = supplied
`;
}

const KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc"];
const DAYS = "3650";

/** Reads what openssl says of a certificate file, and the files' PEM text. */
async function describe(certFile: string, keyFile: string): Promise<TestCertificate> {
  const decoder = new TextDecoder();
  const [info, der] = await Promise.all([
    opensslOutput([
      "x509", "-in", certFile, "-noout", "-subject", "-issuer", "-startdate", "-enddate",
      "-fingerprint", "-sha256", "-nameopt", "RFC2253", "-dateopt", "iso_8601",
    ]),
    opensslOutput(["x509", "-in", certFile, "-outform", "DER"]),
  ]);
  const fields = new Map<string, string>();
  for (const line of decoder.decode(info).split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) fields.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  const field = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined) throw new Error(`openssl x509 printed no ${name} for ${certFile}: ${decoder.decode(info)}`);
    return value;
  };
  // `-dateopt iso_8601` prints "2026-11-28 19:12:00Z".
  const date = (name: string): Date => new Date(field(name).replace(" ", "T"));
  return {
    cert: readFileSync(certFile, "utf8"),
    key: readFileSync(keyFile, "utf8"),
    certFile,
    keyFile,
    subject: field("subject"),
    issuer: field("issuer"),
    fingerprint256: field("sha256 Fingerprint").replaceAll(":", "").toLowerCase(),
    der,
    validFrom: date("notBefore"),
    validTo: date("notAfter"),
  };
}

async function generate(): Promise<TestCertificates> {
  const dir = mkdtempSync(join(tmpdir(), "unisock-certs-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", remove);
  // `deno test` ends without a process "exit" event; it dispatches "unload".
  const events = globalThis as { addEventListener?: (type: string, listener: () => void) => void };
  if ("Deno" in globalThis) events.addEventListener?.("unload", remove);
  const cnf = join(dir, "openssl.cnf");
  writeFileSync(cnf, config(dir));
  writeFileSync(join(dir, "index.txt"), "");
  const files = (name: string) => ({ certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`) });

  /** `openssl req -x509`: a new key and a certificate, self-signed or signed by `issuer`. */
  async function make(name: string, subject: string, extensions: string, issuer?: { certFile: string; keyFile: string }) {
    const { certFile, keyFile } = files(name);
    const signer = issuer === undefined ? [] : ["-CA", issuer.certFile, "-CAkey", issuer.keyFile];
    await opensslOutput([
      "req", "-x509", ...KEY_ARGS, "-keyout", keyFile, "-out", certFile, "-subj", subject,
      "-days", DAYS, "-sha256", "-config", cnf, "-extensions", extensions, ...signer,
    ]);
    return { certFile, keyFile };
  }

  /** `openssl ca`, which (unlike `x509 -req` and `req -x509` in 3.0) takes a start and end date. */
  async function makeExpired(name: string) {
    const { certFile, keyFile } = files(name);
    const csr = join(dir, `${name}.csr`);
    await opensslOutput(["req", "-new", ...KEY_ARGS, "-keyout", keyFile, "-out", csr, "-subj", "/CN=localhost", "-config", cnf]);
    await opensslOutput([
      "ca", "-batch", "-notext", "-config", cnf, "-cert", ca.certFile, "-keyfile", ca.keyFile,
      "-in", csr, "-out", certFile, "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
      "-extensions", "localhost_ext",
    ]);
    return { certFile, keyFile };
  }

  const [ca, untrustedCa] = await Promise.all([
    make("ca", "/CN=unisock test CA", "ca_ext"),
    make("untrusted-ca", "/CN=unisock untrusted CA", "ca_ext"),
  ]);
  const made = await Promise.all([
    make("server", "/CN=localhost", "server_ext", ca),
    make("other", "/CN=other.test", "other_ext", ca),
    make("untrusted", "/CN=localhost", "localhost_ext", untrustedCa),
    make("self-signed", "/CN=localhost", "self_ext"),
    makeExpired("expired"),
    make("client", "/O=Example/CN=alice", "client_ext", ca),
    make("untrusted-client", "/O=Example/CN=alice", "client_ext", untrustedCa),
  ]);
  const [caInfo, untrustedCaInfo, server, other, untrusted, selfSigned, expired, client, untrustedClient] = await Promise.all(
    [ca, untrustedCa, ...made].map((pair) => describe(pair.certFile, pair.keyFile)),
  );
  return { dir, ca: caInfo, untrustedCa: untrustedCaInfo, server, other, untrusted, selfSigned, expired, client, untrustedClient };
}

let cached: Promise<TestCertificates> | undefined;

/**
 * The test certificates (see the module comment), made on the first call of the process
 * (about 30 bounded openssl runs, some side by side) and shared by later calls; their temp dir is removed at exit.
 */
export function testCertificates(): Promise<TestCertificates> {
  cached ??= generate();
  return cached;
}
