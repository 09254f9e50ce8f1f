/** PEM (RFC 7468): base64 lines of 64 characters between BEGIN/END labels. */
import { DbtlsError } from '../errors.js';

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
/** RFC 7468 §3: base64 text, optionally with (legacy, RFC 1421) header lines before a blank line. */
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

/** Every PEM block in `text`, in order. Text outside the blocks (comments, `openssl x509 -text`) is ignored. */
export function pemBlocks(text: string | Buffer): { label: string; der: Buffer }[] {
  const source = typeof text === 'string' ? text : text.toString('latin1');
  const blocks: { label: string; der: Buffer }[] = [];
  for (const m of source.matchAll(BLOCK)) {
    const [, label, rawBody, endLabel] = m;
    let body = rawBody!;
    if (body.includes(':')) body = body.slice(body.search(/\r?\n\r?\n/) + 1); // Proc-Type/DEK-Info headers
    if (label !== endLabel || !BASE64.test(body)) {
      throw new DbtlsError(
        'PEM_MALFORMED',
        `could not read the PEM block "${label}": its body is not base64`,
        {
          hint: 'the file looks damaged; export it again from its source',
        },
      );
    }
    const der = Buffer.from(body, 'base64'); // node's decoder skips the line breaks BASE64 allowed
    if (der.length === 0) {
      throw new DbtlsError('PEM_MALFORMED', `could not read the PEM block "${label}": it is empty`, {
        hint: 'the file looks damaged; export it again from its source',
      });
    }
    blocks.push({ label: label!, der });
  }
  if (blocks.length === 0 && /-----BEGIN /.test(source)) {
    throw new DbtlsError(
      'PEM_MALFORMED',
      'could not read the PEM data: a BEGIN line has no matching END line',
      {
        hint: 'the file looks truncated; export it again from its source',
      },
    );
  }
  return blocks;
}

/** The blocks carrying one of `labels`; PEM_NOT_FOUND when there are none. */
export function pemBlocksOf(text: string | Buffer, labels: readonly string[], what: string): Buffer[] {
  const found = pemBlocks(text)
    .filter((b) => labels.includes(b.label))
    .map((b) => b.der);
  if (found.length === 0) {
    throw new DbtlsError('PEM_MALFORMED', `could not read ${what}: no "${labels[0]}" PEM block found`, {
      hint: `give a PEM file that contains -----BEGIN ${labels[0]}-----`,
    });
  }
  return found;
}
