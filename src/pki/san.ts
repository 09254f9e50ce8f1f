/** Subject alternative names: host name and IP address syntax (RFC 1123 §2.1, RFC 4291 §2.2). */
import { isIP } from 'node:net';
import { DbtlsError } from '../errors.js';

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** A DNS name usable in a SAN: LDH labels, optionally a leading `*.` wildcard, at most 253 characters. */
export function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = (name.startsWith('*.') ? name.slice(2) : name).split('.');
  if (labels.length === 1 && name.startsWith('*.')) return false;
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]!);
}

export const isIpAddress = (text: string): boolean => isIP(text) !== 0;

export function checkDnsName(name: string, what = 'the DNS name'): string {
  if (!isHostName(name)) {
    throw new DbtlsError(
      'DNS_NAME_INVALID',
      `could not use ${what} ${JSON.stringify(name)}: it is not a valid host name`,
      {
        hint: 'use letters, digits, hyphens and dots (db1.example.com); give IP addresses with --ip',
      },
    );
  }
  return name.toLowerCase();
}

/** The 4 or 16 address bytes for an iPAddress SAN (RFC 5280 §4.2.1.6). */
export function ipAddressBytes(text: string): Buffer {
  const family = isIP(text);
  if (family === 4) return Buffer.from(text.split('.').map((p) => Number.parseInt(p, 10)));
  if (family !== 6) {
    throw new DbtlsError(
      'IP_INVALID',
      `could not use the IP address ${JSON.stringify(text)}: it is not an IPv4 or IPv6 address`,
      {
        hint: 'write IPv4 as 10.0.0.5 and IPv6 as fd00::5; give host names with --dns',
      },
    );
  }
  let groups = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    groups = `${text.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = groups.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}

/** Text of iPAddress SAN bytes: dotted IPv4, or IPv6 with the longest zero run compressed (RFC 5952 §4.2). */
export function ipAddressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  let best = { at: -1, len: 1 };
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** Canonical text of an IP address (IP_INVALID when it is not one). */
export function canonicalIp(text: string): string {
  return ipAddressText(ipAddressBytes(text));
}
