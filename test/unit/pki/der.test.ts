/** The DER encoder's length forms (X.690 §8.1.3) around every boundary, read back by our reader and node's. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DerReader, octetString, sequence, TAG, tlv, unsignedInteger } from '../../../src/pki/der.js';

test('length octets: short form below 128, long form with the fewest bytes above', () => {
  const cases: [number, string][] = [
    [0, '0400'],
    [1, '0401'],
    [127, '047f'],
    [128, '048180'],
    [255, '0481ff'],
    [256, '04820100'],
    [65535, '0482ffff'],
    [65536, '0483010000'],
  ];
  for (const [length, header] of cases) {
    const encoded = octetString(Buffer.alloc(length, 0xab));
    assert.equal(encoded.subarray(0, header.length / 2).toString('hex'), header, `length ${length}`);
    assert.equal(encoded.length, header.length / 2 + length);
    const read = new DerReader(encoded, 'test').expect(TAG.OCTET_STRING, 'value');
    assert.ok(read.value.equals(Buffer.alloc(length, 0xab)));
  }
});

test('several contents are concatenated in order; nesting keeps every byte', () => {
  assert.equal(
    tlv(0x30, Buffer.from([1, 2]), Buffer.from([]), Buffer.from([3])).toString('hex'),
    '3003010203',
  );
  assert.equal(sequence().toString('hex'), '3000');
  const inner = Array.from({ length: 40 }, (_, i) => unsignedInteger(i * 1000));
  const outer = sequence(...inner);
  const reader = new DerReader(new DerReader(outer, 'test').expect(TAG.SEQUENCE, 'outer').value, 'test');
  for (let i = 0; i < 40; i++) assert.ok(reader.expect(TAG.INTEGER, 'n').raw.equals(inner[i]!));
  assert.equal(reader.more(), false);
  assert.equal(unsignedInteger(Buffer.from([0x80])).toString('hex'), '02020080');
  assert.equal(unsignedInteger(Buffer.from([0, 0, 5])).toString('hex'), '020105');
});
