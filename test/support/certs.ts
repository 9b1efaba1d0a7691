/**
 * Test certificates made with the `openssl` CLI (EC P-256, valid two days): a CA, certificates it
 * signs (with a subjectAltName and/or an extended key usage), and self-signed ones. Each comes back
 * as file paths (`<name>.crt`, `<name>.key` in `dir`) and PEM text. One copy of the command lines
 * for every test in test/; bench/lib/auth-material.ts keeps its own (bench does not import tests).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and its private key: files in the folder they were made in, and their PEM text. */
export interface CertFiles {
  /** The base name: the files are `<name>.crt` and `<name>.key`. */
  readonly name: string;
  /** Path of the PEM certificate. */
  readonly cert: string;
  /** Path of the PEM private key. */
  readonly key: string;
  /** The certificate, PEM. */
  readonly certPem: string;
  /** The private key, PEM. */
  readonly keyPem: string;
}

/** What a CA-signed certificate holds. */
export interface CertSpec {
  /** The base name of its files. */
  readonly name: string;
  /** Its subject CN (default: `name`). */
  readonly cn?: string;
  /** The CA that signs it. */
  readonly ca: CertFiles;
  /** subjectAltName entries, as openssl writes them: `IP:127.0.0.1,DNS:localhost`. */
  readonly san?: string;
  /** The extended key usage: a server's or a client's. */
  readonly usage?: 'serverAuth' | 'clientAuth';
}

/** The SAN of a server on this machine. */
export const LOCAL_SAN = 'IP:127.0.0.1,DNS:localhost';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function files(dir: string, name: string): CertFiles {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  return { name, cert, key, certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

/** A self-signed CA certificate with subject CN `cn` (default: `name`), in `dir`. */
export function makeCa(dir: string, name: string, cn = name): CertFiles {
  openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-subj',
    `/CN=${cn}`,
    '-days',
    '2',
  ]);
  return files(dir, name);
}

/** A certificate signed by `spec.ca`, in `dir`. */
export function makeCert(dir: string, spec: CertSpec): CertFiles {
  const { name, cn = name, ca, san, usage } = spec;
  openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  const ext = [
    san === undefined ? '' : `subjectAltName=${san}\n`,
    usage === undefined ? '' : `extendedKeyUsage=${usage}\n`,
  ];
  writeFileSync(join(dir, `${name}.ext`), ext.join(''));
  // A random serial: two certificates of one CA made in the same millisecond still differ.
  const serial = `0x${randomBytes(8).toString('hex')}`;
  // biome-ignore format: one openssl command line
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial, '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  return files(dir, name);
}

/** A self-signed certificate with subject CN `cn` (default: `name`) and SAN `san`, in `dir`. */
export function selfSigned(dir: string, name: string, cn = name, san = LOCAL_SAN): CertFiles {
  // biome-ignore format: one openssl command line
  openssl(dir, ['req', '-x509', ...EC, '-days', '2', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`, '-keyout', `${name}.key`, '-out', `${name}.crt`]);
  return files(dir, name);
}

/** The SHA-256 fingerprint of a certificate file, in Node's format (`AB:CD:…`). */
export function fingerprint(certFile: string): string {
  const out = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'], {
    encoding: 'utf8',
  });
  return out.trim().split('=')[1]!.toUpperCase();
}
