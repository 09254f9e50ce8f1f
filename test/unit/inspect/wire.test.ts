import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { describeBytes, offersTls, sslRequestPacket } from '../../../src/inspect/wire.js';
import { CLIENT_SSL, decodeGreeting, decodeSslRequest } from '../../../src/protocol/index.js';
import { PROJECT_ROOT } from '../../harness/cli.js';

/** Greetings captured from MariaDB 10.11 with and without TLS configured (test/fixtures/protocol/README.md). */
const fixture = (name: string) => fs.readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/protocol', name));
const GREETING = fixture('mariadb-10.11-tls-greeting.bin');
const PLAIN_GREETING = fixture('mariadb-10.11-greeting.bin');

describe('the probe SSLRequest', () => {
  it('is a 32-byte payload with sequence id 1, CLIENT_SSL, and only capabilities the server offered', () => {
    const greeting = decodeGreeting(GREETING.subarray(4));
    assert.equal(offersTls(greeting), true);
    const packet = sslRequestPacket(greeting);
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
