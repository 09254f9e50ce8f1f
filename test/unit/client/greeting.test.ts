import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { describeBytes, greetingOf } from '../../../src/client/dial.js';
import { offersTls, sslRequestFrame } from '../../../src/client/upgrade.js';
import { DbtlsError } from '../../../src/errors.js';
import { CLIENT_SSL } from '../../../src/protocol/capabilities.js';
import { decodeGreeting } from '../../../src/protocol/handshake.js';
import { decodeSslRequest } from '../../../src/protocol/ssl-request.js';
import { PROJECT_ROOT } from '../../harness/cli.js';

/** Greetings captured from MariaDB 10.11 with and without TLS configured (test/fixtures/protocol/README.md). */
const fixture = (name: string) => fs.readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/protocol', name));
const GREETING = fixture('mariadb-10.11-tls-greeting.bin');
const PLAIN_GREETING = fixture('mariadb-10.11-greeting.bin');

describe('the SSLRequest of every caller that does not authenticate', () => {
  it('is a 32-byte payload with sequence id 1, CLIENT_SSL, and only capabilities the server offered', () => {
    const greeting = decodeGreeting(GREETING.subarray(4));
    assert.equal(offersTls(greeting), true);
    const packet = sslRequestFrame(greeting);
    assert.deepEqual([...packet.subarray(0, 4)], [32, 0, 0, 1]);
    const request = decodeSslRequest(packet.subarray(4));
    assert.equal((request.capabilities & CLIENT_SSL) >>> 0, CLIENT_SSL);
    assert.equal((request.capabilities & ~greeting.capabilities) >>> 0, 0);
    assert.equal(request.mariadbCapabilities, 0);
  });

  it('sees no TLS in the greeting of a server without TLS', () => {
    assert.equal(offersTls(decodeGreeting(PLAIN_GREETING.subarray(4))), false);
  });
});

describe('describeBytes', () => {
  it('quotes text and shows binary as hex, at most 32 bytes', () => {
    assert.equal(
      describeBytes(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')),
      ' (it sent "SSH-2.0-OpenSSH_9.2\\r\\n")',
    );
    assert.equal(describeBytes(Buffer.from([0x16, 0x03, 0x01])), ' (it sent 0x160301)');
    assert.equal(describeBytes(Buffer.alloc(0)), '');
    assert.equal(describeBytes(Buffer.alloc(40, 0x41)), ` (it sent "${'A'.repeat(32)}")`);
  });
});

const code = (c: string) => (e: unknown) => e instanceof DbtlsError && e.code === c;
const AT = { host: '1.2.3.4', port: 3306 };

/** A HandshakeV10 payload as MariaDB 10.11 sends it (fields as in its greeting; scramble zeroed). */
function greeting(capsLow: number): Buffer {
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from('5.5.5-10.11.19-MariaDB-0+deb12u1\0'),
    Buffer.from([0x05, 0x00, 0x00, 0x00]),
    Buffer.alloc(8),
    Buffer.from([0]),
    Buffer.from([capsLow & 0xff, capsLow >> 8]),
    Buffer.from([45, 0x02, 0x00, 0xff, 0x81, 21]),
    Buffer.alloc(6),
    Buffer.from([0x1d, 0x00, 0x00, 0x00]),
    Buffer.alloc(13),
    Buffer.from('mysql_native_password\0'),
  ]);
}

// Were the reload probe's own greeting reader and SSLRequest (test/unit/server/admin-target.test.ts).
describe('greeting and SSLRequest (protocol, pure)', () => {
  it('sees CLIENT_SSL (0x0800) in the low capability flags', () => {
    assert.equal(offersTls(greetingOf(greeting(0xfffe), AT)), true);
    assert.equal(offersTls(greetingOf(greeting(0xfffe & ~0x0800), AT)), false);
  });
  it('names the field of a short or foreign greeting (PROTOCOL_MALFORMED)', () => {
    assert.throws(() => greetingOf(Buffer.alloc(0), AT), code('PROTOCOL_MALFORMED'));
    assert.throws(() => greetingOf(Buffer.from([9, 0]), AT), code('PROTOCOL_MALFORMED'));
    assert.throws(() => greetingOf(Buffer.from([10, 0x41, 0x42]), AT), code('PROTOCOL_MALFORMED'));
    assert.throws(() => greetingOf(greeting(0xffff).subarray(0, 40), AT), code('PROTOCOL_MALFORMED'));
  });
  it('reports an ERR packet instead of a greeting as SERVER_REFUSED', () => {
    const err = Buffer.concat([Buffer.from([0xff, 0x69, 0x04]), Buffer.from("Host '1.2.3.4' is blocked")]);
    assert.throws(
      () => greetingOf(err, AT),
      (e: unknown) =>
        code('SERVER_REFUSED')(e) &&
        /error 1129 \(unauthenticated, sent before TLS\): Host '1\.2\.3\.4' is blocked/.test(
          (e as Error).message,
        ) &&
        /FLUSH HOSTS/.test((e as DbtlsError).hint ?? ''),
    );
  });
  it('writes the 32-byte SSLRequest with sequence id 1: 4.1, secure connection, SSL (long password: only to MySQL)', () => {
    // MariaDB clears bit 0 (CLIENT_MYSQL, alias CLIENT_LONG_PASSWORD) in its greeting: not announced back.
    assert.equal(
      sslRequestFrame(decodeGreeting(greeting(0xfffe))).toString('hex'),
      `200000${'01'}${'008a0000'}${'00000001'}${'2d'}${'00'.repeat(23)}`,
    );
    assert.equal(
      sslRequestFrame(decodeGreeting(greeting(0xffff))).toString('hex'),
      `200000${'01'}${'018a0000'}${'00000001'}${'2d'}${'00'.repeat(23)}`,
    );
  });
});
