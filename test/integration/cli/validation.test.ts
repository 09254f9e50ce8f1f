/**
 * Issue 14, item 9: inputs that were accepted and made something broken are refused, each with its own
 * code, exit 2, a hint, and no file written or changed. CSRs that dbtls cannot make (secp256k1 keys, two
 * CNs) come from the real openssl; the rest through the CLI in this process.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../../../src/cli/main.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { createCsr } from '../../../src/pki/csr.js';
import { generateKeyPair } from '../../../src/pki/keys.js';
import { oneLineName } from '../../../src/pki/names.js';
import { nextCaName } from '../../../src/server/rotation/rollover-stages.js';
import { openssl } from '../../harness/oracles.js';
import { capture } from '../../unit/cli/capture.js';

let dir: string;
const at = (f: string) => path.join(dir, f);
/** The CA every case uses, made once. */
const CA = () => ['--ca-dir', at('ca')];

async function dbtls(argv: string[]) {
  const { out, render } = capture();
  const code = await run(argv, render);
  return { code, ...out };
}

/** Every file under dir with its size and modification time: what "nothing written" is checked against. */
function snapshot(): string {
  const rows: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = fs.statSync(p);
        rows.push(`${path.relative(dir, p)} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return rows.join('\n');
}

async function refused(argv: string[], code: string, message?: RegExp) {
  const before = snapshot();
  const r = await dbtls(argv);
  const shown = JSON.stringify(argv);
  assert.equal(r.code, 2, `${shown}: exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error\\[${code}\\]: could not `), shown);
  assert.match(r.stderr, /\nhint: \S/, `${shown}: no hint`);
  if (message) assert.match(r.stderr, message, shown);
  assert.equal(snapshot(), before, `${shown}: a file was written`);
}

async function opensslCsr(name: string, curve: string, subject: string): Promise<string> {
  const made = await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    `ec_paramgen_curve:${curve}`,
    '-nodes',
    '-keyout',
    at(`${name}.key`),
    '-out',
    at(`${name}.csr`),
    '-subj',
    subject,
  ]);
  assert.equal(made.code, 0, made.stderr);
  return at(`${name}.csr`);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-validation-'));
  for (const argv of [
    ['ca', 'init', '--no-passphrase', ...CA()],
    ['issue', 'client', '--cn', 'app', '--out', at('app'), ...CA()],
  ]) {
    const r = await dbtls(argv);
    assert.equal(r.code, 0, r.stderr);
  }
  fs.writeFileSync(at('pw'), 'changeit\n');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('subject fields (issue 14, item 9)', () => {
  it('ca init refuses control characters, backslashes and over-long names in --cn and --org', async () => {
    const init = ['ca', 'init', '--no-passphrase', '--ca-dir', at('ca2')];
    await refused([...init, '--org', 'Acme\nEvil'], 'ORG_INVALID', /control character/);
    await refused([...init, '--org', 'Acme\tCorp'], 'ORG_INVALID', /control character/);
    await refused([...init, '--cn', 'Root\u001b[31m'], 'CN_INVALID', /control character/);
    await refused([...init, '--cn', 'Root\u0085'], 'CN_INVALID', /control character/);
    await refused([...init, '--cn', 'R\\xC3\\xBC'], 'CN_INVALID', /backslash/);
    await refused([...init, '--cn', 'x'.repeat(65)], 'CN_INVALID', /65 characters/);
    // The intermediate is named "ORG Intermediate CA": 49 + 16 characters is one too many.
    await refused([...init, '--intermediate', '--org', 'o'.repeat(49)], 'ORG_INVALID', /65 characters/);
    assert.equal(fs.existsSync(at('ca2')), false);
  });

  it('issue and csr refuse the same in --cn', async () => {
    await refused(['issue', 'client', '--cn', 'app\nx', '--out', at('x1'), ...CA()], 'CN_INVALID');
    await refused(['issue', 'client', '--cn', '\\xC3\\xBCser', '--out', at('x2'), ...CA()], 'CN_INVALID');
    await refused(['csr', '--cn', 'db\r', '--out', at('x3')], 'CN_INVALID', /control character/);
    await refused(['csr', '--cn', 'a\\', '--out', at('x4')], 'CN_INVALID', /backslash/);
    await refused(['csr', '--cn', 'a\\x41', '--out', at('x5')], 'CN_INVALID', /backslash/);
  });

  it('issue client --cn-from: a bad line is shown inert and cut, with the hint for its reason', async () => {
    const list = at('names.txt');
    const garbage = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 37 + 11) % 256));
    const cases: [content: Buffer | string, shown: RegExp, hint: RegExp][] = [
      [
        Buffer.concat([Buffer.from('alice\n'), garbage]),
        /"[^"\n]{1,130}…" of the list: /,
        /UTF-8 text: check that --cn-from names the right file$/m,
      ],
      ['alice\nbob\u001b[31m\n', /"bob\\u001b\[31m" of the list: it holds a control character/, /UTF-8 text/],
      [
        `alice\n${'x'.repeat(70)}\n`,
        /"x{60}…" of the list: it has 70 characters/,
        /hint: shorten it to at most 64 characters in that line/,
      ],
      [
        'alice\nteam/bob\n',
        /"team\/bob" of the list: it holds "\/"/,
        /hint: remove "\/" and "\\" in that line/,
      ],
      [
        'alice\n.bob\n',
        /"\.bob" of the list: it starts with "\."/,
        /hint: drop the leading "\." in that line/,
      ],
    ];
    for (const [content, shown, hint] of cases) {
      fs.writeFileSync(list, content);
      const argv = ['issue', 'client', '--cn-from', list, '--out', at('clients'), ...CA()];
      await refused(argv, 'CN_INVALID', shown);
      const r = await dbtls(argv);
      assert.match(r.stderr, hint);
      assert.doesNotMatch(r.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, 'a raw control character');
      assert.ok(r.stderr.split('\n')[0]!.length < 200, r.stderr);
    }
    fs.rmSync(list);
  });

  it('a name outside ASCII is fine: its one-line form is what openssl prints', async () => {
    const r = await dbtls(['issue', 'client', '--cn', 'üser', '--out', at('user'), ...CA()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Subject: \/O=dbtls\/CN=\\xC3\\xBCser {3}/);
    const shown = await openssl([
      'x509',
      '-in',
      at('user/cert.pem'),
      '-noout',
      '-subject',
      '-nameopt',
      'compat',
    ]);
    assert.equal(shown.stdout.trim(), 'subject=/O=dbtls/CN=\\xC3\\xBCser');
    // A backslash before anything but xHH, and not at the end, reads one way only.
    const dom = await dbtls(['issue', 'client', '--cn', 'dom\\user', '--out', at('dom'), ...CA()]);
    assert.equal(dom.code, 0, dom.stderr);
    const domShown = await openssl([
      'x509',
      '-in',
      at('dom/cert.pem'),
      '-noout',
      '-subject',
      '-nameopt',
      'compat',
    ]);
    assert.equal(domShown.stdout.trim(), 'subject=/O=dbtls/CN=dom\\user');
  });

  it('sign refuses a CSR subject attribute with a control character or a backslash', async () => {
    const { privateKey } = generateKeyPair('ec-p256');
    for (const [value, name] of [
      ['Acme\nEvil', 'nl'],
      ['a\\x41', 'bs'],
    ] as const) {
      const file = at(`${name}.csr`);
      fs.writeFileSync(
        file,
        createCsr({
          subject: [
            { type: 'O', value },
            { type: 'CN', value: 'app' },
          ],
          privateKey,
        }),
      );
      await refused(
        ['sign', file, '--profile', 'client', '--out', at(`${name}.pem`), ...CA()],
        'SUBJECT_INVALID',
      );
    }
  });

  it('sign refuses a CSR with two CNs (the second was dropped)', async () => {
    const csr = await opensslCsr('twocn', 'P-256', '/CN=app/CN=root');
    await refused(
      ['sign', csr, '--profile', 'client', '--out', at('twocn.pem'), ...CA()],
      'CSR_CN_MULTIPLE',
      /"app", "root"/,
    );
  });

  it('a valid certificate for another CN with the same one-line subject is a collision', async () => {
    // An index line as a dbtls before this rule wrote it: the CN of the four characters \xC3 and so on.
    const index = at('ca/index.jsonl');
    const saved = fs.readFileSync(index, 'utf8');
    const entry = JSON.parse(saved.trim().split('\n')[0]!);
    const literal = '\\xC3\\xBCmlaut';
    fs.appendFileSync(
      index,
      `${JSON.stringify({
        ...entry,
        serial: '0f'.repeat(16),
        cn: literal,
        subject: oneLineName([
          { type: 'O', value: 'dbtls' },
          { type: 'CN', value: literal },
        ]),
      })}\n`,
    );
    try {
      await refused(
        ['issue', 'client', '--cn', 'ümlaut', '--out', at('umlaut'), ...CA()],
        'SUBJECT_COLLISION',
        /0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f for "\\\\xC3\\\\xBCmlaut"/,
      );
    } finally {
      fs.writeFileSync(index, saved);
    }
  });
});

describe('a CA rollover names the next CA from the decoded CN (issue 14, item 9)', () => {
  it('"Wurzel ü" becomes "Wurzel ü G2", not the one-line text \\xC3\\xBC', async () => {
    const r = await dbtls(['ca', 'init', '--no-passphrase', '--cn', 'Wurzel ü', '--ca-dir', at('wurzel')]);
    assert.equal(r.code, 0, r.stderr);
    const root = parseCertificate(fs.readFileSync(at('wurzel/root.pem')));
    assert.equal(root.subject, '/O=dbtls/CN=Wurzel \\xC3\\xBC');
    assert.equal(nextCaName(root.subjectDer), 'Wurzel ü G2');
    fs.rmSync(at('wurzel'), { recursive: true });
  });
});

describe('CSR keys (issue 14, item 9)', () => {
  it('sign refuses secp256k1 (and any curve but P-256, P-384, P-521)', async () => {
    const csr = await opensslCsr('k1', 'secp256k1', '/CN=k1');
    await refused(
      ['sign', csr, '--profile', 'client', '--out', at('k1.pem'), ...CA()],
      'KEY_CURVE_UNSUPPORTED',
      /secp256k1/,
    );
    const brainpool = await opensslCsr('bp', 'brainpoolP256r1', '/CN=bp');
    await refused(
      ['sign', brainpool, '--profile', 'client', '--out', at('bp.pem'), ...CA()],
      'KEY_CURVE_UNSUPPORTED',
    );
  });

  it('signs P-384 and P-521 requests', async () => {
    for (const curve of ['P-384', 'P-521']) {
      const csr = await opensslCsr(curve, curve, `/CN=${curve.toLowerCase()}`);
      const r = await dbtls(['sign', csr, '--profile', 'client', '--out', at(`${curve}.pem`), ...CA()]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
});

describe('keystores are not overwritten by surprise (issue 14, item 9)', () => {
  it('export p12|jks|truststore refuse an existing --out unless --force', async () => {
    const common = ['--password-file', at('pw')];
    const exports = (out: string) => [
      [
        'export',
        'p12',
        '--cert',
        at('app/cert.pem'),
        '--key',
        at('app/key.pem'),
        '--alias',
        'app',
        ...common,
        '--out',
        out,
      ],
      [
        'export',
        'jks',
        '--cert',
        at('app/cert.pem'),
        '--key',
        at('app/key.pem'),
        '--alias',
        'app',
        ...common,
        '--out',
        out,
      ],
      ['export', 'truststore', '--format', 'p12', '--ca', at('ca/root.pem'), ...common, '--out', out],
    ];
    for (const argv of exports(at('store'))) {
      fs.writeFileSync(at('store'), 'precious');
      await refused(argv, 'OUTPUT_EXISTS', /--force/);
      assert.equal(fs.readFileSync(at('store'), 'utf8'), 'precious');
      const r = await dbtls([...argv, '--force']);
      assert.equal(r.code, 0, r.stderr);
      assert.notEqual(fs.readFileSync(at('store'), 'utf8'), 'precious');
      fs.rmSync(at('store'));
    }
  });
});

describe('a keystore alias with a control character', () => {
  it('is ALIAS_INVALID for p12 and jks, shown escaped, and nothing is written', async () => {
    for (const format of ['p12', 'jks']) {
      const out = at(`alias.${format}`);
      const argv = ['export', format, '--cert', at('app/cert.pem'), '--key', at('app/key.pem')];
      const r = await dbtls([...argv, '--alias', 'a\nb\x1b[31m', '--password-file', at('pw'), '--out', out]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr.split('\n')[0],
        'error[ALIAS_INVALID]: could not use alias "a\\nb\\u001b[31m": it holds a control character',
      );
      assert.equal(fs.existsSync(out), false);
    }
  });
});

describe('Kubernetes names (issue 14, item 9)', () => {
  it('each name is checked against its own rule', async () => {
    await refused(['k8s', 'kubedb', '--name', '1orders', '--issuer', 'ca'], 'NAME_INVALID', /RFC 1035 label/);
    await refused(
      ['k8s', 'kubedb', '--name', 'orders', '--issuer', 'Bad_Issuer'],
      'NAME_INVALID',
      /subdomain/,
    );
    await refused(
      ['k8s', 'kubedb', '--name', 'orders', '--namespace', 'a.b', '--issuer', 'ca'],
      'NAMESPACE_INVALID',
    );
    await refused(['k8s', 'proxy-sidecar', 'db:3306', '--secret', 'a..b', '--image', 'i'], 'NAME_INVALID');
    const cm = ['k8s', 'cert-manager', '--namespace', 'shop', '--server-dns', 'db', ...CA()];
    await refused([...cm, '--issuer-name', 'Issuer'], 'NAME_INVALID', /the issuer name/);
    await refused([...cm, '--ca-secret', `${'a'.repeat(254)}`], 'NAME_INVALID', /the CA Secret name/);
    await refused([...cm, '--client-cn', 'a\\x2F'], 'NAME_INVALID', /backslash/);
    // SAN inputs of the manifests follow the rules dbtls issues by.
    const cmBare = ['k8s', 'cert-manager', '--namespace', 'shop', ...CA()];
    await refused([...cmBare, '--server-dns', 'db\nx'], 'DNS_NAME_INVALID');
    await refused([...cm, '--server-ip', '10.0.0'], 'IP_INVALID');
    await refused(
      ['k8s', 'kubedb', '--name', 'orders', '--issuer', 'ca', '--server-dns', 'a b'],
      'DNS_NAME_INVALID',
    );
  });

  it('names with dots are fine where Kubernetes allows them', async () => {
    for (const argv of [
      ['k8s', 'kubedb', '--name', 'orders', '--issuer', 'dbtls.ca-issuer'],
      ['k8s', 'proxy-sidecar', 'db:3306', '--secret', 'app.db-tls', '--image', 'i'],
    ]) {
      const r = await dbtls(argv);
      assert.equal(r.code, 0, r.stderr);
    }
  });
});

describe('k8s proxy-sidecar UPSTREAM', () => {
  it('is refused as `dbtls proxy` refuses it, before the manifest is written', async () => {
    const out = at('sidecar.yaml');
    for (const [upstream, why] of [
      ['h:99999', /port "99999" is not 1-65535/],
      ['mysql://u@[::1:3306', /it is not a valid URL/],
      ['mysql://%zz@h', /malformed %-escape/],
    ] as const) {
      const argv = ['k8s', 'proxy-sidecar', upstream, '--secret', 's', '--image', 'i', '--out', out];
      await refused(argv, 'TARGET_INVALID', why);
      assert.equal(fs.existsSync(out), false, upstream);
      const proxy = await dbtls(['proxy', upstream, '--listen', '127.0.0.1:3307']);
      assert.equal(proxy.code, 2, proxy.stderr);
      assert.match(proxy.stderr, /^error\[TARGET_INVALID\]/, `dbtls proxy ${upstream}`);
    }
    const ok = await dbtls([
      'k8s',
      'proxy-sidecar',
      'mysql://app@db1:3306/',
      '--secret',
      's',
      '--image',
      'i',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
  });
});
