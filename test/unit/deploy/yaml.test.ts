/**
 * The YAML writer against kubectl itself: a ConfigMap and a Secret made from files that exercise every
 * style go-yaml v2 chooses (literal blocks with each chomping and indentation hint, plain, single- and
 * double-quoted with escapes, folded long lines, YAML 1.1 words and numbers that must be quoted, key
 * order), compared byte for byte with `kubectl create … --dry-run=client -o yaml`; and objects kubectl's
 * generators print (sequences, nested maps, empty ones) written again from their parsed data. Live when
 * kubectl is installed, else against test/fixtures/deploy/kubectl/recorded-edge-cases-v1.32.json
 * (DBTLS_RECORD_KUBECTL=1 writes it again from the installed kubectl).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { configMapFromFiles, secretFromFiles } from '../../../src/deploy/kube-objects.js';
import { compareKeys, toYaml } from '../../../src/deploy/yaml.js';
import { resolvesToString } from '../../../src/deploy/yaml-scalar.js';
import { PROJECT_ROOT } from '../../harness/cli.js';
import { run, toolAvailable } from '../../harness/oracles.js';

const RECORDING = path.join(PROJECT_ROOT, 'test/fixtures/deploy/kubectl/recorded-edge-cases-v1.32.json');
const LONG =
  'a very long line with many spaces that goes on and on past eighty columns for sure, yes it does indeed';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBrzCCAVWgAwIBAgIUZCZR7oI8I7d5sIjms\n-----END CERTIFICATE-----\n';

/** File name (also the key) -> content. Names exercise go-yaml's key order too (a9 < a10, '-' < letters). */
const FILES: Readonly<Record<string, string | Buffer>> = {
  'pem.crt': PEM,
  'crlf.crt': PEM.replaceAll('\n', '\r\n'),
  'no-final-newline.crt': PEM.trimEnd(),
  'blank-line-after.crt': `${PEM}\n`,
  'blank-lines-inside.txt': 'a\n\n\nb\n',
  'trailing-space.txt': 'a  \nb\n',
  'leading-space.txt': '  lead\nb\n',
  'leading-newline.txt': '\n\nx\n',
  'only-newline.txt': '\n',
  'tab.txt': 'tab\there\n',
  'empty.txt': '',
  'spaces.txt': '   ',
  a9: 'no',
  a10: 'Yes',
  'a-b': 'on',
  a_b: '~',
  'a.b': 'NULL',
  A1: 'true',
  number: '123',
  octal: '0777',
  'not-octal': '08',
  hex: '0x1F',
  'hex-too-big': '0xFFFFFFFFFFFFFFFFFFFF',
  'big-decimal': '99999999999999999999999',
  underscore: '1_000',
  float: '1e3',
  'dot-float': '.5',
  'dot-word': '.dockerconfigjson',
  base60: '1:20',
  date: '2024-01-01',
  'date-time': '2024-01-02T03:04:05Z',
  'not-a-date': '2024-13-01',
  version: '8.0.35',
  'short-version': '10.11',
  merge: '<<',
  dash: '- x',
  'dash-word': '-x',
  colon: ': x',
  'colon-inside': 'kubedb:server',
  'colon-space': 'a: b',
  hash: 'a #b',
  'hash-start': '#c',
  'comment-lines.txt': '# comment\nx: y\n',
  quote: "it's",
  'quote-start': "'q",
  'star-start': '*/1 * * * *',
  'document-start': '---x',
  'long-line': LONG,
  'long-line-newline': `${LONG}\n`,
  'long-quoted': `'${LONG}`,
  'long-double': `${LONG}\r\n${LONG}`,
  'long-double-spaces': `x  y    ${LONG},    yes   \t`,
  unicode: 'ünï ✓ 漢字\n',
  emoji: '😀 emoji',
  bom: 'bom\ufeff',
  nbsp: 'nbsp\u00a0x',
  'line-separator': 'a\u2028b',
  control: '\x01ctl\x1b',
  backslash: 'back\\slash "quoted"',
  'binary.bin': Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256)),
};

/** kubectl's generators: nested maps, sequences of maps and of strings, empty maps, quoted items. */
const GENERATORS: readonly (readonly string[])[] = [
  [
    'create',
    'deployment',
    'web',
    '--image=busybox',
    '--replicas=3',
    '--port=3306',
    '-n',
    'no',
    '--dry-run=client',
    '-o',
    'yaml',
    '--',
    'sleep',
    '1e3',
    'a b',
    "it's",
    '',
    'x: y',
    '#c',
    'tab\tx',
    'multi\nline\n',
    'multi\nline',
    '- dash',
    LONG,
  ],
  [
    'create',
    'cronjob',
    'cj',
    '--image=x',
    '--schedule=*/1 * * * *',
    '--dry-run=client',
    '-o',
    'yaml',
    '--',
    'echo',
    "it's",
  ],
  [
    'create',
    'job',
    'j',
    '--image=x',
    '--dry-run=client',
    '-o',
    'yaml',
    '--',
    'a10',
    'a9',
    '~',
    'null',
    'on',
    '0o17',
    '1_0',
    '2024-01-01',
  ],
];

interface Recording {
  readonly kubectl: string;
  readonly configmap: string;
  readonly secret: string;
  readonly generators: string[];
}

const CREATE_ARGS = (kind: 'configmap' | 'secret', dir: string) => [
  'create',
  ...(kind === 'configmap'
    ? ['configmap', 'edge', '-n', 'no']
    : ['secret', 'generic', 'edge', '-n', '2024-01-01']),
  ...Object.keys(FILES).map((name) => `--from-file=${name}=${path.join(dir, name)}`),
  '--dry-run=client',
  '-o',
  'yaml',
];

async function kubectlLive(dir: string): Promise<Recording> {
  const call = async (args: readonly string[]) => {
    const r = await run('kubectl', args);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const version = (await call(['version', '--client'])).split('\n')[0]!;
  return {
    kubectl: version,
    configmap: await call(CREATE_ARGS('configmap', dir)),
    secret: await call(CREATE_ARGS('secret', dir)),
    generators: await Promise.all(GENERATORS.map(call)),
  };
}

describe('YAML as kubectl writes it', () => {
  let dir: string;
  let expected: Recording;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-yaml-'));
    for (const [name, content] of Object.entries(FILES)) fs.writeFileSync(path.join(dir, name), content);
    expected = toolAvailable('kubectl')
      ? await kubectlLive(dir)
      : (JSON.parse(fs.readFileSync(RECORDING, 'utf8')) as Recording);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const files = () => Object.fromEntries(Object.entries(FILES).map(([k, v]) => [k, Buffer.from(v)]));

  it('a ConfigMap from every kind of file is byte-identical to kubectl create configmap', () => {
    assert.equal(toYaml(configMapFromFiles('edge', files(), 'no')), expected.configmap);
  });

  it('a Secret from the same files is byte-identical to kubectl create secret generic', () => {
    assert.equal(toYaml(secretFromFiles('edge', files(), '2024-01-01')), expected.secret);
  });

  it("what kubectl's generators print is written again byte for byte from its data", () => {
    for (const text of expected.generators) assert.equal(toYaml(parse(text)), text);
  });

  it('the recording matches this kubectl (when one is installed)', (t) => {
    if (!toolAvailable('kubectl')) return t.skip('kubectl not installed');
    // To record again (another kubectl, new cases): DBTLS_RECORD_KUBECTL=1 npx tsx --test this file.
    if (process.env.DBTLS_RECORD_KUBECTL === '1')
      fs.writeFileSync(RECORDING, `${JSON.stringify(expected, null, 2)}\n`);
    const recorded = JSON.parse(fs.readFileSync(RECORDING, 'utf8')) as Recording;
    if (recorded.kubectl !== expected.kubectl) return t.skip(`recorded with ${recorded.kubectl}`);
    assert.deepEqual(recorded, expected);
  });
});

describe('YAML writer details', () => {
  it("keys sort as go-yaml's sorter does: digit runs as numbers, other characters before letters", () => {
    const keys = ['b', 'a10', 'a9', 'a-b', 'a_b', 'aB', 'A', 'a', 'a09', 'a.b', '1', '10', '9'];
    // The order kubectl prints them in (`kubectl create configmap --from-literal=KEY=x` for each).
    assert.deepEqual([...keys].sort(compareKeys), [
      '1',
      '9',
      '10',
      'A',
      'a',
      'a-b',
      'a.b',
      'a_b',
      'a9',
      'a09',
      'a10',
      'aB',
      'b',
    ]);
  });

  it('strings YAML 1.1 would read as another type are not plain', () => {
    const quoted = [
      '',
      'no',
      'Y',
      'off',
      '~',
      'Null',
      '123',
      '-1',
      '+1',
      '0x1f',
      '0o7',
      '0b101',
      '1_000',
      '1e3',
      '.5',
      '1:20',
      '2024-01-01',
      '2024-1-2 3:04:05',
      '.inf',
      '-.Inf',
    ];
    const plain = [
      'none',
      'yes-no',
      '8.0.35',
      '2024-13-01',
      '0x',
      '1e',
      '.dockerconfigjson',
      'kubedb:server',
      '2160h',
      '<<',
      '+',
      'v1',
    ];
    for (const s of quoted) assert.equal(resolvesToString(s), false, s);
    for (const s of plain) assert.equal(resolvesToString(s), true, s);
  });

  it('Helm values single-quote what cannot be plain', () => {
    assert.equal(
      toYaml({ caConfigmap: 'null', sslMode: 'verify-full' }, { quote: 'single' }),
      "caConfigmap: 'null'\nsslMode: verify-full\n",
    );
    assert.equal(toYaml({ caConfigmap: 'null' }), 'caConfigmap: "null"\n');
  });
});
