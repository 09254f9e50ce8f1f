import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import {
  CLIENT_MYSQL,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  capabilityNames,
} from '../../../src/protocol/capabilities.js';
import { decodeErrPacket, encodeErrPacket, isErrPacket } from '../../../src/protocol/err-packet.js';
import { decodeGreeting, encodeGreeting, withoutCapabilities } from '../../../src/protocol/handshake.js';
import { framePacket, PacketReader } from '../../../src/protocol/packet.js';
import { decodeSslRequest, encodeSslRequest } from '../../../src/protocol/ssl-request.js';
import { PROJECT_ROOT } from '../../harness/cli.js';

const FIXTURES = path.join(PROJECT_ROOT, 'test/fixtures/protocol');
function fixture(name: string): { sequenceId: number; payload: Buffer; whole: Buffer } {
  const whole = fs.readFileSync(path.join(FIXTURES, name));
  assert.equal(whole.readUIntLE(0, 3), whole.length - 4, `${name} holds one whole packet`);
  return { sequenceId: whole[3] ?? -1, payload: whole.subarray(4), whole };
}

function errorOf(fn: () => unknown): DbtlsError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbtlsError, `expected a DbtlsError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

// A MySQL 8.0 greeting written by hand from the spec (protocol_handshake_v10): CLIENT_MYSQL (LONG_PASSWORD)
// set, 10 reserved bytes, caching_sha2_password.
const MYSQL8_GREETING = Buffer.from(
  [
    '0a',
    Buffer.from('8.0.36\0').toString('hex'),
    '0d000000', // connection id 13
    '3132333435363738', // scramble part 1
    '00',
    'ffff', // capabilities low
    'ff', // charset utf8mb4_0900_ai_ci
    '0200', // status: autocommit
    'ffdf', // capabilities high
    '15', // scramble length 21
    '00000000000000000000', // reserved
    '393031323334353637383930', // scramble part 2 (12 bytes)
    '00',
    Buffer.from('caching_sha2_password\0').toString('hex'),
  ].join(''),
  'hex',
);

describe('server greeting', () => {
  it('decodes a MariaDB 10.11 greeting with TLS offered', () => {
    const { sequenceId, payload } = fixture('mariadb-10.11-tls-greeting.bin');
    assert.equal(sequenceId, 0);
    const g = decodeGreeting(payload);
    assert.equal(g.protocolVersion, 10);
    assert.equal(g.rawServerVersion, '5.5.5-10.11.19-MariaDB-0+deb12u1');
    assert.equal(g.serverVersion, '10.11.19-MariaDB-0+deb12u1');
    assert.equal(g.flavor, 'mariadb');
    assert.equal(g.connectionId, 4);
    assert.equal(g.scramble.length, 20);
    assert.equal(g.scramble.toString('hex'), '3031454878432839295e21263c394a4a70782c6e');
    assert.equal(g.capabilities, (0x81ff_f7fe | CLIENT_SSL) >>> 0);
    assert.ok(g.capabilities & CLIENT_SSL);
    assert.equal(g.capabilities & CLIENT_MYSQL, 0);
    assert.equal(g.mariadbCapabilities, 0x1d);
    assert.equal(g.charset, 8);
    assert.equal(g.status, 2);
    assert.equal(g.authPluginName, 'mysql_native_password');
  });

  it('decodes the greeting of a MariaDB without TLS: no CLIENT_SSL', () => {
    const g = decodeGreeting(fixture('mariadb-10.11-greeting.bin').payload);
    assert.equal(g.capabilities & CLIENT_SSL, 0);
    assert.equal(g.flavor, 'mariadb');
    assert.ok(!capabilityNames(g.capabilities).includes('CLIENT_SSL'));
    assert.ok(capabilityNames(g.capabilities).includes('CLIENT_PLUGIN_AUTH'));
  });

  for (const name of ['mariadb-10.11-tls-greeting.bin', 'mariadb-10.11-greeting.bin']) {
    it(`re-encodes ${name} byte for byte`, () => {
      const { payload } = fixture(name);
      assert.deepEqual(encodeGreeting(decodeGreeting(payload)), payload);
    });
  }

  it('decodes and re-encodes a MySQL 8 greeting', () => {
    const g = decodeGreeting(MYSQL8_GREETING);
    assert.equal(g.flavor, 'mysql');
    assert.equal(g.serverVersion, '8.0.36');
    assert.equal(g.mariadbCapabilities, undefined);
    assert.equal(g.capabilities, 0xdfff_ffff);
    assert.equal(g.scramble.toString(), '12345678901234567890');
    assert.equal(g.authPluginName, 'caching_sha2_password');
    assert.equal(g.charset, 255);
    assert.deepEqual(encodeGreeting(g), MYSQL8_GREETING);
  });

  it('clears CLIENT_SSL as a downgrade attacker would, and nothing else', () => {
    const { payload } = fixture('mariadb-10.11-tls-greeting.bin');
    const g = decodeGreeting(payload);
    const stripped = decodeGreeting(encodeGreeting(withoutCapabilities(g, CLIENT_SSL)));
    assert.equal(stripped.capabilities, (g.capabilities & ~CLIENT_SSL) >>> 0);
    assert.equal(stripped.mariadbCapabilities, g.mariadbCapabilities);
    assert.deepEqual(stripped.scramble, g.scramble);
  });

  it('derives the 5.5.5- prefix when encoding a MariaDB greeting without the raw version', () => {
    const g = decodeGreeting(fixture('mariadb-10.11-tls-greeting.bin').payload);
    const { rawServerVersion: _raw, ...rest } = g;
    assert.deepEqual(encodeGreeting(rest), fixture('mariadb-10.11-tls-greeting.bin').payload);
  });

  it('refuses every truncation with PROTOCOL_MALFORMED naming the field', () => {
    const { payload } = fixture('mariadb-10.11-tls-greeting.bin');
    const fieldsSeen = new Set<string>();
    // 49 bytes (with this version string) is a complete pre-4.1 greeting (it ends after the low capability flags); a plugin name
    // without its NUL is tolerated (see below), so cut up to where it starts.
    const cut = payload.indexOf('mysql_native_password');
    for (let n = 0; n < cut; n++) {
      if (n === 49) continue;
      const err = errorOf(() => decodeGreeting(payload.subarray(0, n)));
      assert.equal(err.code, 'PROTOCOL_MALFORMED', `length ${n}`);
      assert.match(err.message, /^could not decode the server greeting: /);
      fieldsSeen.add(String(err.details?.field));
    }
    for (const field of [
      'protocol version',
      'server version',
      'connection id',
      'scramble part 1',
      'capability flags (high)',
      'scramble part 2',
    ]) {
      assert.ok(fieldsSeen.has(field), field);
    }
  });

  it('refuses another protocol version and an ERR packet in place of a greeting', () => {
    const bad = Buffer.from(MYSQL8_GREETING);
    bad[0] = 9;
    assert.match(errorOf(() => decodeGreeting(bad)).message, /protocol version 9 is not 10/);
    const err = fixture('mariadb-10.11-err-access-denied.bin').payload;
    assert.match(errorOf(() => decodeGreeting(err)).message, /ERR packet instead of a greeting/);
  });

  it('tolerates a plugin name without NUL (MySQL 5.5.7 bug #59453)', () => {
    const g = decodeGreeting(MYSQL8_GREETING.subarray(0, -1));
    assert.equal(g.authPluginName, 'caching_sha2_password');
  });
});

describe('SSLRequest', () => {
  it('is 32 bytes: capabilities with CLIENT_SSL, max packet, charset, 19 zeros, MariaDB capabilities', () => {
    const caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
    const bytes = encodeSslRequest({ capabilities: caps, mariadbCapabilities: 0x1d });
    assert.equal(bytes.length, 32);
    assert.equal(bytes.toString('hex'), `008a0800000000012d${'00'.repeat(19)}1d000000`);
    assert.deepEqual(decodeSslRequest(bytes), {
      capabilities: caps | CLIENT_SSL,
      maxPacketSize: 16 * 1024 * 1024,
      charset: 45,
      mariadbCapabilities: 0x1d,
    });
    assert.deepEqual(framePacket(1, bytes).subarray(0, 4), Buffer.from('20000001', 'hex'));
  });

  it('refuses a payload of another length', () => {
    assert.equal(errorOf(() => decodeSslRequest(Buffer.alloc(31))).code, 'PROTOCOL_MALFORMED');
  });
});

describe('packets', () => {
  it('frames and splits packets fed one byte at a time', () => {
    const stream = Buffer.concat([
      framePacket(0, Buffer.from('abc')),
      framePacket(1, Buffer.alloc(0)),
      framePacket(255, Buffer.from('z')),
    ]);
    const reader = new PacketReader();
    const got: [number, string][] = [];
    for (const byte of stream) {
      reader.push(Buffer.from([byte]));
      for (let p = reader.next(); p; p = reader.next()) got.push([p.sequenceId, p.payload.toString()]);
    }
    assert.deepEqual(got, [
      [0, 'abc'],
      [1, ''],
      [255, 'z'],
    ]);
    assert.equal(reader.pending().length, 0);
  });

  it('refuses a frame longer than the limit before buffering it', () => {
    const reader = new PacketReader(1024, 'server greeting');
    reader.push(Buffer.from('ffffff00', 'hex'));
    const err = errorOf(() => reader.next());
    assert.equal(err.code, 'PROTOCOL_MALFORMED');
    assert.match(err.message, /server greeting: its length 16777215 exceeds 1024/);
    assert.equal(errorOf(() => framePacket(0, Buffer.alloc(0xffffff))).code, 'PROTOCOL_PACKET_TOO_LARGE');
  });
});

describe('ERR packet', () => {
  it('decodes the access-denied packet of MariaDB 10.11', () => {
    const { sequenceId, payload } = fixture('mariadb-10.11-err-access-denied.bin');
    assert.equal(sequenceId, 2);
    assert.ok(isErrPacket(payload));
    const err = decodeErrPacket(payload);
    assert.deepEqual(err, {
      code: 1045,
      sqlState: '28000',
      message: "Access denied for user 'nobody'@'127.0.0.1' (using password: NO)",
    });
    assert.deepEqual(encodeErrPacket(err), payload);
  });

  it('decodes a pre-greeting ERR without SQL state', () => {
    const payload = encodeErrPacket({ code: 1040, message: 'Too many connections' });
    assert.equal(payload.toString('hex').slice(0, 6), 'ff1004');
    assert.deepEqual(decodeErrPacket(payload), { code: 1040, message: 'Too many connections' });
  });

  it('refuses truncated and non-ERR packets', () => {
    assert.equal(errorOf(() => decodeErrPacket(Buffer.from([0xff, 0x15]))).details?.field, 'error code');
    assert.equal(
      errorOf(() => decodeErrPacket(Buffer.from('ff1504233238', 'hex'))).details?.field,
      'sql state',
    );
    assert.equal(errorOf(() => decodeErrPacket(Buffer.from([0x00]))).details?.field, 'header');
    assert.equal(isErrPacket(Buffer.alloc(0)), false);
  });
});
