/**
 * Certificate signing requests (PKCS #10, RFC 2986): made on the database node so the key never leaves
 * it, and read by the CA, which trusts nothing in them but the public key and the SANs.
 */
import { type KeyObject, sign, verify } from 'node:crypto';
import { DbtlsError, isDbtlsError } from '../errors.js';
import { readExtensions } from './certificate.js';
import {
  bitString,
  contextTag,
  DerReader,
  decodeOid,
  implicit,
  implicitConstructed,
  inside,
  octetString,
  oid,
  sequence,
  set,
  TAG,
  unsignedInteger,
} from './der.js';
import { publicKeyDer } from './keys.js';
import { commonName, decodeName, encodeName, type NameAttribute, oneLineName } from './names.js';
import { pemBlocks, toPem } from './pem.js';
import { ipAddressBytes } from './san.js';
import { publicKeyFromSpki, publicKeyFromSpkiAsync } from './spki.js';
import { EXTENSION_OIDS, SIGNATURE_ALGORITHMS, signatureAlgorithmFor } from './tbs.js';

/** PKCS #9 extensionRequest attribute (RFC 2985 §5.4.2). */
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

export interface CsrInfo {
  readonly der: Buffer;
  readonly pem: string;
  readonly subject: string;
  readonly subjectAttributes: NameAttribute[];
  readonly cn?: string;
  readonly dnsNames: string[];
  readonly ipAddresses: string[];
  /** The CSR asks for basicConstraints CA:true. */
  readonly requestsCa: boolean;
  readonly publicKey: KeyObject;
  readonly spki: Buffer;
}

function malformed(cause: string, err?: unknown): DbtlsError {
  return new DbtlsError('CSR_MALFORMED', `could not read the CSR: ${cause}`, {
    hint: 'give a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----), e.g. from `dbtls csr`',
    cause: err,
  });
}

/**
 * A CSR read but not yet verified: what the self-signature check needs, and the CsrInfo it vouches for
 * once its public key is imported (keyed).
 */
interface DecodedCsr {
  readonly info: Buffer;
  /** The digest to verify with (null: the key type hashes by itself, Ed25519); undefined: not accepted. */
  readonly hash: string | null | undefined;
  readonly sigOid: string;
  readonly signature: Buffer;
  readonly der: Buffer;
  readonly subjectDer: Buffer;
  readonly subjectAttributes: NameAttribute[];
  readonly extensions: ReturnType<typeof readExtensions>;
  readonly spki: Buffer;
}

/** Parses a CSR and verifies its self-signature (CSR_SIGNATURE_INVALID when it does not verify). */
export function parseCsr(input: string | Buffer): CsrInfo {
  const decoded = decodeCsr(input);
  const csr = keyed(
    decoded,
    importing(() => publicKeyFromSpki(decoded.spki)),
  );
  let ok = false;
  if (decoded.hash !== undefined) {
    try {
      ok = verify(decoded.hash, decoded.info, csr.publicKey, decoded.signature);
    } catch {
      ok = false;
    }
  }
  return verified(decoded, csr, ok);
}

/**
 * parseCsr with the signature check on libuv's thread pool instead of this thread: a CA signing many
 * CSRs at once keeps every core busy (the check is a third of the work; issue 11), and a service that
 * receives CSRs keeps its event loop free. The same checks, the same errors.
 */
export async function parseCsrAsync(input: string | Buffer): Promise<CsrInfo> {
  const decoded = decodeCsr(input);
  const csr = keyed(decoded, await importingAsync(() => publicKeyFromSpkiAsync(decoded.spki)));
  const ok =
    decoded.hash !== undefined &&
    (await new Promise<boolean>((resolve) => {
      try {
        verify(decoded.hash, decoded.info, csr.publicKey, decoded.signature, (err, result) =>
          resolve(!err && result),
        );
      } catch {
        resolve(false);
      }
    }));
  return verified(decoded, csr, ok);
}

/** A key the CSR carries that cannot be imported makes the CSR malformed. */
function importing(read: () => KeyObject): KeyObject {
  try {
    return read();
  } catch (err) {
    throw keyMalformed(err);
  }
}

async function importingAsync(read: () => Promise<KeyObject>): Promise<KeyObject> {
  try {
    return await read();
  } catch (err) {
    throw keyMalformed(err);
  }
}

function keyMalformed(err: unknown): DbtlsError {
  if (isDbtlsError(err) && err.code === 'CSR_MALFORMED') return err;
  return malformed(
    isDbtlsError(err)
      ? err.message.replace(/^could not decode [^:]*: /, '')
      : `its public key cannot be used: ${err instanceof Error ? err.message : String(err)}`,
    err,
  );
}

/** The CsrInfo of a decoded CSR and its imported public key. */
function keyed(decoded: DecodedCsr, publicKey: KeyObject): CsrInfo {
  const { der, subjectDer, subjectAttributes, extensions } = decoded;
  const cn = commonName(subjectAttributes);
  let pem: string | undefined;
  return {
    der,
    // Encoded on first use: the CA signing a CSR does not need it back (CSR signing speed, issue 11).
    get pem() {
      pem ??= toPem('CERTIFICATE REQUEST', der);
      return pem;
    },
    subject: oneLineName(subjectDer),
    subjectAttributes,
    ...(cn === undefined ? {} : { cn }),
    dnsNames: extensions.dnsNames,
    ipAddresses: extensions.ipAddresses,
    requestsCa: extensions.isCa,
    publicKey,
    spki: decoded.spki,
  };
}

function verified(decoded: DecodedCsr, csr: CsrInfo, ok: boolean): CsrInfo {
  if (ok) return csr;
  throw new DbtlsError(
    'CSR_SIGNATURE_INVALID',
    decoded.hash === undefined
      ? `could not verify the CSR: its signature algorithm ${decoded.sigOid} is not supported`
      : 'could not verify the CSR: its signature does not match its public key',
    { hint: 'the CSR was altered or damaged; make a new one on the database node with `dbtls csr`' },
  );
}

function decodeCsr(input: string | Buffer): DecodedCsr {
  let der: Buffer;
  try {
    const blocks = pemBlocks(input).filter(
      (b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST',
    );
    if (blocks.length === 0) throw malformed('no CERTIFICATE REQUEST PEM block found');
    der = blocks[0]!.der;
  } catch (err) {
    if (isDbtlsError(err) && err.code === 'CSR_MALFORMED') throw err;
    throw malformed(isDbtlsError(err) ? err.message : String(err), err);
  }
  try {
    const outer = inside(new DerReader(der, 'a CSR').expect(TAG.SEQUENCE, 'CertificationRequest'), 'a CSR');
    const infoTlv = outer.expect(TAG.SEQUENCE, 'certificationRequestInfo');
    const sigOid = decodeOid(
      inside(outer.expect(TAG.SEQUENCE, 'signatureAlgorithm'), 'a CSR').expect(TAG.OID, 'algorithm').value,
    );
    const signature = outer.expect(TAG.BIT_STRING, 'signature').value.subarray(1);
    const info = inside(infoTlv, 'a CSR');
    info.expect(TAG.INTEGER, 'version');
    const subjectDer = info.expect(TAG.SEQUENCE, 'subject').raw;
    const spki = Buffer.from(info.expect(TAG.SEQUENCE, 'subjectPKInfo').raw);
    const attrs = info.optional(contextTag(0, true), 'attributes');
    let extensions: ReturnType<typeof readExtensions> = readExtensions(undefined);
    if (attrs) {
      const list = inside(attrs, 'CSR attributes');
      while (list.more()) {
        const attr = inside(list.expect(TAG.SEQUENCE, 'Attribute'), 'a CSR attribute');
        const type = decodeOid(attr.expect(TAG.OID, 'attribute type').value);
        const values = inside(attr.expect(TAG.SET, 'attribute values'), 'a CSR attribute');
        if (type === EXTENSION_REQUEST)
          extensions = readExtensions(values.expect(TAG.SEQUENCE, 'Extensions'));
      }
    }
    return {
      info: Buffer.from(infoTlv.raw),
      hash: SIGNATURE_ALGORITHMS[sigOid]?.hash,
      sigOid,
      signature: Buffer.from(signature),
      der,
      subjectDer: Buffer.from(subjectDer),
      subjectAttributes: decodeName(subjectDer),
      extensions,
      spki,
    };
  } catch (err) {
    if (isDbtlsError(err) && err.code === 'CSR_MALFORMED') throw err;
    throw malformed(
      isDbtlsError(err) ? err.message.replace(/^could not decode [^:]*: /, '') : String(err),
      err,
    );
  }
}

export interface CsrRequest {
  readonly subject: readonly NameAttribute[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly privateKey: KeyObject;
}

/** A CSR signed by `privateKey`, asking for the given SANs (and nothing else: the CA decides the rest). */
export function createCsr(req: CsrRequest): string {
  const dns = req.dnsNames ?? [];
  const ips = req.ipAddresses ?? [];
  const attributes: Buffer[] = [];
  if (dns.length + ips.length > 0) {
    const san = sequence(
      ...dns.map((n) => implicit(2, Buffer.from(n, 'latin1'))),
      ...ips.map((a) => implicit(7, ipAddressBytes(a))),
    );
    const ext = sequence(oid(EXTENSION_OIDS.subjectAltName), octetString(san));
    attributes.push(sequence(oid(EXTENSION_REQUEST), set(sequence(ext))));
  }
  const info = sequence(
    unsignedInteger(0),
    encodeName(req.subject),
    publicKeyDer(req.privateKey),
    implicitConstructed(0, ...attributes),
  );
  const algorithm = signatureAlgorithmFor(req.privateKey);
  const der = sequence(info, algorithm.der, bitString(sign(algorithm.hash, info, req.privateKey)));
  return toPem('CERTIFICATE REQUEST', der);
}
