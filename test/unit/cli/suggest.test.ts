/**
 * "Did you mean" and the mysql-client habits (issue 14, items 2 and 3): a table of what users type and
 * the exact answer, always in dbtls's own error voice, never node's parser text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '../../../src/cli/args.js';
import { run } from '../../../src/cli/main.js';
import { shellQuote } from '../../../src/cli/shell.js';
import { closest, editDistance, shown } from '../../../src/cli/suggest.js';
import { DbtlsError } from '../../../src/errors.js';
import { capture } from './capture.js';

describe('did you mean', () => {
  it('finds the closest name, or none when nothing is close', () => {
    const table: [string, string[], string | undefined][] = [
      ['isue', ['issue', 'inspect', 'list'], 'issue'],
      ['ot', ['out', 'json', 'days'], 'out'],
      ['jsno', ['json', 'out'], 'json'],
      ['ca-dri', ['ca-dir', 'cn'], 'ca-dir'],
      ['expir', ['expiring-within', 'json'], 'expiring-within'],
      ['frobnicate', ['issue', 'inspect'], undefined],
      ['x', ['out', 'json'], undefined],
    ];
    for (const [word, candidates, want] of table) assert.equal(closest(word, candidates), want, word);
    assert.equal(editDistance('isuse', 'issue'), 1);
  });

  it('answers mistyped commands, subcommands and options with exit 2 and the right name', async () => {
    const table: [string[], RegExp][] = [
      [
        ['isue', 'server'],
        /^error\[UNKNOWN_COMMAND\]: could not run dbtls isue server: no such command\nhint: did you mean `dbtls issue server`\?/,
      ],
      [['ca', 'int'], /^error\[UNKNOWN_COMMAND\]: .*\nhint: did you mean `dbtls ca init`\?/],
      [['lsit'], /hint: did you mean `dbtls list`\?/],
      // The last word of a longer command, when no first word is close.
      [['status'], /^error\[UNKNOWN_COMMAND\]: .*\nhint: did you mean `dbtls server status`\?/],
      [['stauts', 'db1'], /hint: did you mean `dbtls server status`\?/],
      [['rds'], /hint: did you mean `dbtls cloud-ca rds`\?/],
      [
        ['show'],
        /hint: did you mean one of `dbtls ca show`, `dbtls csr show`, `dbtls cert show`, .*`dbtls config show`\?/,
      ],
      [['xyzzy'], /hint: run `dbtls --help` for the list of commands\n$/],
      [
        ['crl', '--ot', 'x.pem'],
        /^error\[USAGE\]: could not parse the arguments: unknown option --ot; did you mean --out\?\nhint: write --out; the options are in `dbtls crl --help`\n$/,
      ],
      [['list', '--json=yes'], /^error\[USAGE\]: could not parse the arguments: --json takes no value/],
      [['crl', '--out'], /^error\[USAGE\]: could not parse the arguments: --out needs a value\n/],
      [
        ['crl', '--out', '--json'],
        /^error\[USAGE\]: .*--out needs a value, and --json looks like another option/,
      ],
    ];
    for (const [argv, want] of table) {
      const { out, render } = capture();
      assert.equal(await run(argv, render), 2, argv.join(' '));
      assert.match(out.stderr, want, argv.join(' '));
      assert.doesNotMatch(out.stderr, /Unknown option|To specify a positional/, argv.join(' '));
    }
  });

  it('shows user text with control characters escaped', () => {
    assert.equal(shown('a\nb\u001b[31m'), 'a\\nb\\u001b[31m');
    assert.equal(shown('x\u202Ey'), 'x\\u202ey');
    assert.equal(shown('y'.repeat(100)).length, 60);
  });

  it('quotes words for a POSIX shell only when needed', () => {
    assert.equal(shellQuote('db1.example.com'), 'db1.example.com');
    assert.equal(shellQuote("O'Brien"), `'O'\\''Brien'`);
    assert.equal(shellQuote('a b'), "'a b'");
    assert.equal(shellQuote(''), "''");
  });
});

describe('mysql client habits', () => {
  const options = {
    'password-file': { type: 'string' },
    user: { type: 'string' },
    ca: { type: 'string' },
  } as const;
  const usage = 'dbtls inspect TARGET [--user U] [--password-file F]';
  const usageError = (argv: string[]) => {
    try {
      parse(argv, options, usage);
    } catch (err) {
      assert.ok(err instanceof DbtlsError);
      assert.equal(err.code, 'USAGE');
      return `${err.message}\n${err.hint}`;
    }
    assert.fail(`${argv.join(' ')} was accepted`);
  };

  it('refuses a password on the command line without echoing it', () => {
    for (const argv of [
      ['db1', '-pS3cret'],
      ['db1', '--password=S3cret'],
      ['db1', '--password', 'S3cret'],
    ]) {
      const text = usageError(argv);
      assert.match(text, /passwords never go on the command line/);
      assert.match(text, /--password-file FILE, the MYSQL_PWD environment variable, or the prompt/);
      assert.doesNotMatch(text, /S3cret/);
    }
  });

  it('refuses --passphrase VALUE and points at --passphrase-file', () => {
    const text = usageError(['--passphrase', 'hunter2']);
    assert.match(text, /the CA passphrase never goes on the command line\nuse --passphrase-file FILE/);
    assert.doesNotMatch(text, /hunter2/);
  });

  it('answers -p without a terminal with an error, not an empty password', () => {
    assert.equal(process.stdin.isTTY, undefined, 'the tests run without a terminal');
    assert.match(usageError(['db1', '-p']), /-p asks for a prompt, and there is no terminal to ask on/);
  });

  it('rewrites -h HOST -P PORT -u USER as the TARGET form', () => {
    assert.equal(
      usageError(['-h', 'db1', '-P', '3307', '-u', 'app']).split('\n')[1],
      'write: dbtls inspect db1:3307 --user app',
    );
    assert.equal(usageError(['-hdb1', '-uroot']).split('\n')[1], 'write: dbtls inspect db1 --user root');
  });

  it('keeps a target already on the command line: -u adds the user, -P the port, -h replaces it', () => {
    assert.equal(
      usageError(['-u', 'root', 'db9.example.com']).split('\n')[1],
      'write: dbtls inspect db9.example.com --user root',
    );
    assert.equal(
      usageError(['--ca', 'ca.pem', 'db1', '-P', '3307']).split('\n')[1],
      'write: dbtls inspect db1:3307 --ca ca.pem',
    );
    assert.equal(usageError(['-h', 'db2', 'db1']).split('\n')[1], 'write: dbtls inspect db2');
  });
});
