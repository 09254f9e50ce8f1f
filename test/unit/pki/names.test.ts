/** OpenSSL one-line names: what MariaDB's REQUIRE SUBJECT compares byte for byte, checked against openssl. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { generateKeyMaterial } from '../../../src/pki/keys.js';
import {
  commonName,
  commonNameIndex,
  decodeName,
  encodeName,
  type NameAttribute,
  nameValueProblem,
  oneLineName,
  parseOneLineName,
} from '../../../src/pki/names.js';
import { PROFILES } from '../../../src/pki/profiles.js';
import { keyIdentifier, profileExtensions, signCertificate } from '../../../src/pki/tbs.js';
import { openssl } from '../../harness/oracles.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-names-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function opensslSubject(file: string): Promise<{ subject: string; issuer: string }> {
  const r = await openssl(['x509', '-in', file, '-noout', '-subject', '-issuer', '-nameopt', 'compat']);
  assert.equal(r.code, 0, r.stderr);
  const [s, i] = r.stdout.trim().split('\n');
  return { subject: s!.replace(/^subject=/, ''), issuer: i!.replace(/^issuer=/, '') };
}

const CASES: { name: string; attrs: NameAttribute[] }[] = [
  {
    name: 'O and CN',
    attrs: [
      { type: 'O', value: 'example' },
      { type: 'CN', value: 'app' },
    ],
  },
  {
    name: 'C, O, OU, CN with spaces',
    attrs: [
      { type: 'C', value: 'US' },
      { type: 'ST', value: 'New York' },
      { type: 'O', value: 'Acme Corp' },
      { type: 'OU', value: 'DB Team' },
      { type: 'CN', value: 'app user' },
    ],
  },
  {
    name: 'non-ASCII and punctuation',
    attrs: [
      { type: 'O', value: 'Café = / Ünïcode + Co, Inc.' },
      { type: 'CN', value: 'rené' },
    ],
  },
  {
    name: 'email and DC',
    attrs: [
      { type: 'DC', value: 'example' },
      { type: 'emailAddress', value: 'dba@example.com' },
      { type: 'CN', value: 'x' },
    ],
  },
];

test('our subject and issuer strings equal `openssl x509 -nameopt compat`, for names we encode', async () => {
  for (const c of CASES) {
    const key = generateKeyMaterial('ec-p256');
    const name = encodeName(c.attrs);
    const der = signCertificate(
      {
        serial: Buffer.from([1, 2, 3]),
        issuer: name,
        subject: name,
        notBefore: new Date('2026-01-01T00:00:00Z'),
        notAfter: new Date('2027-01-01T00:00:00Z'),
        spki: key.spki,
        extensions: profileExtensions({
          profile: PROFILES.root,
          subjectSpki: key.spki,
          subjectIsRsa: false,
          issuerKeyId: keyIdentifier(key.spki),
          dnsNames: [],
          ipAddresses: [],
        }),
      },
      key.privateKey,
    );
    const cert = parseCertificate(der);
    const file = path.join(dir, 'ours.pem');
    fs.writeFileSync(file, cert.pem);
    const o = await opensslSubject(file);
    assert.equal(cert.subject, o.subject, c.name);
    assert.equal(cert.issuer, o.issuer, c.name);
    assert.equal(oneLineName(c.attrs), o.subject, `${c.name}: from attributes`);
    assert.deepEqual(decodeName(name), c.attrs);
  }
});

test('names openssl encodes (PrintableString, UTF8String) read the same as openssl prints them', async () => {
  const file = path.join(dir, 'req.pem');
  const key = path.join(dir, 'req.key');
  const r = await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    file,
    '-days',
    '1',
    '-utf8',
    '-subj',
    '/C=DE/O=Müller & Söhne GmbH/OU=Data Base/CN=db one',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const o = await opensslSubject(file);
  assert.equal(o.subject, '/C=DE/O=M\\xC3\\xBCller & S\\xC3\\xB6hne GmbH/OU=Data Base/CN=db one');
  assert.equal(parseCertificate(fs.readFileSync(file)).subject, o.subject);
});

test('parseOneLineName splits /TYPE=value pairs; NAME_INVALID otherwise', () => {
  assert.deepEqual(parseOneLineName('/C=US/O=Acme Corp/CN=app user'), [
    ['C', 'US'],
    ['O', 'Acme Corp'],
    ['CN', 'app user'],
  ]);
  assert.throws(() => parseOneLineName('CN=x'), { code: 'NAME_INVALID' });
  assert.throws(() => parseOneLineName('/CN'), { code: 'NAME_INVALID' });
  assert.throws(() => encodeName([{ type: 'XX', value: 'y' }]), { code: 'NAME_INVALID' });
});

test('parseOneLineName undoes the \\/ and \\+ escapes of OpenSSL 3', () => {
  assert.deepEqual(parseOneLineName('/O=a\\/b\\+c/CN=x'), [
    ['O', 'a/b+c'],
    ['CN', 'x'],
  ]);
});

test('nameValueProblem: the values whose one-line form another value also has are refused (issue 14, item 9)', () => {
  const name = (o: string, cn: string) =>
    oneLineName([
      { type: 'O', value: o },
      { type: 'CN', value: cn },
    ]);
  // The collisions, as the server would see them: each pair prints the same one-line name.
  assert.equal(name('dbtls', '\\xC3\\xBCser'), name('dbtls', 'üser'));
  assert.equal(name('a\\', 'b'), oneLineName([{ type: 'O', value: 'a/CN=b' }]));
  for (const bad of [
    '\\xC3\\xBCser',
    'a\\',
    'a\\x2f',
    'x\nO=evil',
    'tab\there',
    'c1\u0085',
    '',
    'x'.repeat(65),
  ]) {
    assert.notEqual(nameValueProblem(bad), undefined, JSON.stringify(bad));
  }
  for (const good of ['üser', 'dom\\user', 'a\\/b', 'a\\+b', '\\\\ok', 'x'.repeat(64), "o'brien"]) {
    assert.equal(nameValueProblem(good), undefined, JSON.stringify(good));
  }
  // What remains is one-to-one: random values over the characters that make escapes, from a fixed seed.
  let seed = 9;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  // Pieces that make escapes; without the rule, this draw finds over a thousand colliding pairs.
  const alphabet = ['\\xC3\\xBC', 'ü', '\\', '/', 'CN=', 'a', '+', 'x', '\\x2F'];
  const draw = () =>
    Array.from(
      { length: 1 + Math.floor(random() * 4) },
      () => alphabet[Math.floor(random() * alphabet.length)],
    ).join('');
  const seen = new Map<string, string>();
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const o = draw();
    const cn = draw();
    if (nameValueProblem(o) || nameValueProblem(cn)) continue;
    accepted++;
    const line = name(o, cn);
    const key = JSON.stringify([o, cn]);
    const earlier = seen.get(line);
    assert.ok(earlier === undefined || earlier === key, `${earlier} and ${key} both print ${line}`);
    seen.set(line, key);
  }
  assert.ok(accepted > 3000, `only ${accepted} accepted`);
});

test('the CN of a name is its last CN, read the same from attributes, DER and the one-line form', () => {
  const table: {
    name: string;
    attributes: NameAttribute[];
    oneLine: string;
    cn: string | undefined;
    at: number;
  }[] = [
    {
      name: 'two CNs: the last, the most specific (RFC 2818 §3.1)',
      attributes: [
        { type: 'O', value: 'x' },
        { type: 'CN', value: 'first.example.com' },
        { type: 'CN', value: 'second.example.com' },
      ],
      oneLine: '/O=x/CN=first.example.com/CN=second.example.com',
      cn: 'second.example.com',
      at: 2,
    },
    {
      name: "a CN with a comma: OpenSSL's one-line form does not escape it (RFC 4514 would: CN=Doe\\, John)",
      attributes: [
        { type: 'O', value: 'Acme, Inc.' },
        { type: 'CN', value: 'Doe, John' },
      ],
      oneLine: '/O=Acme, Inc./CN=Doe, John',
      cn: 'Doe, John',
      at: 1,
    },
    {
      name: 'a CN whose value holds "/CN=": one CN, not two',
      attributes: [{ type: 'CN', value: 'x/CN=app' }],
      oneLine: '/CN=x\\/CN=app',
      cn: 'x/CN=app',
      at: 0,
    },
    {
      name: 'a CN followed by another attribute',
      attributes: [
        { type: 'CN', value: 'db' },
        { type: 'OU', value: 'ops' },
      ],
      oneLine: '/CN=db/OU=ops',
      cn: 'db',
      at: 0,
    },
    { name: 'no CN', attributes: [{ type: 'O', value: 'x' }], oneLine: '/O=x', cn: undefined, at: -1 },
  ];
  for (const row of table) {
    const der = encodeName(row.attributes);
    assert.equal(oneLineName(der), row.oneLine, row.name);
    assert.equal(commonNameIndex(row.attributes), row.at, row.name);
    assert.equal(commonName(row.attributes), row.cn, row.name);
    assert.equal(commonName(decodeName(der)), row.cn, row.name);
    assert.equal(commonName(row.oneLine), row.cn, row.name);
  }
});
