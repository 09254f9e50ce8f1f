/**
 * "Did you mean" and the mysql-client habits (issue 14, items 2 and 3): a table of what users type and
 * the exact answer, always in dbtls's own error voice, never node's parser text.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse } from '../../../src/cli/args.js';
import { connectCommand } from '../../../src/cli/client.js';
import type { Command } from '../../../src/cli/command.js';
import { run } from '../../../src/cli/main.js';
import { commands as revokeCommands } from '../../../src/cli/revoke.js';
import { requireCommand } from '../../../src/cli/server-users.js';
import { shellQuote } from '../../../src/cli/shell.js';
import { snippetCommand } from '../../../src/cli/snippet.js';
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
    // -h names the server: a positional already there is kept, not replaced (it may be a second target).
    assert.equal(usageError(['-h', 'db2', 'db1']).split('\n')[1], 'write: dbtls inspect db2 db1');
  });

  it('skips the value of a short string option when it looks for the target (-e SQL)', () => {
    const withExecute = { ...options, execute: { type: 'string', short: 'e' } } as const;
    const hint = (argv: string[]) => {
      try {
        parse(argv, withExecute, usage);
      } catch (err) {
        assert.ok(err instanceof DbtlsError);
        return err.hint;
      }
      assert.fail(`${argv.join(' ')} was accepted`);
    };
    assert.equal(
      hint(['-e', 'SELECT 1', '-u', 'root', 'db1']),
      "write: dbtls inspect db1 --user root -e 'SELECT 1'",
    );
  });
});

/** The words bash makes of a pasted line (quotes removed), as the command will receive them. */
function pastedWords(line: string): string[] {
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `printf '%s\\0' ${line}`], {
    encoding: 'utf8',
  });
  return out.split('\0').slice(0, -1);
}

const crlCommand = revokeCommands.find((c) => c.name.join(' ') === 'crl')!;

describe('mysql client habits, rewritten for the real commands', () => {
  const table: [command: Command, typed: string[], suggestion: string, target: string][] = [
    [
      requireCommand,
      ['-h', 'db1', '-u', 'root', "'app'@'%'", '--ssl'],
      `dbtls require db1 --user root ''\\''app'\\''@'\\''%'\\''' --ssl`,
      'db1',
    ],
    [
      requireCommand,
      ['-P', '3307', 'db1', "o'hara@%", '--ssl'],
      `dbtls require db1:3307 'o'\\''hara@%' --ssl`,
      'db1:3307',
    ],
    [
      // Without -h and with only the account: the server is the mysql client's default, the account stays.
      requireCommand,
      ['-u', 'root', '-P', '3307', "'app'@'%'", '--ssl'],
      `dbtls require localhost:3307 --user root ''\\''app'\\''@'\\''%'\\''' --ssl`,
      'localhost:3307',
    ],
    [
      snippetCommand,
      ['--for', 'mysql-cli', '-h', 'db1', '-P', '3307'],
      'dbtls snippet db1:3307 --for mysql-cli',
      'db1:3307',
    ],
    [crlCommand, ['--install', '-h', 'db1'], 'dbtls crl --install db1', 'db1'],
    [
      crlCommand,
      ['--install', 'db2', '-P', '3307', '--dry-run'],
      'dbtls crl --install db2:3307 --dry-run',
      'db2:3307',
    ],
    [connectCommand, ['-e', 'SELECT 1', '-h', 'db1'], "dbtls connect db1 -e 'SELECT 1'", 'db1'],
  ];
  for (const [command, typed, suggestion, target] of table) {
    it(`dbtls ${command.name.join(' ')} ${typed.join(' ')}`, () => {
      let hint: string | undefined;
      try {
        parse(typed, command.options!, command.usage);
      } catch (err) {
        assert.ok(err instanceof DbtlsError);
        assert.equal(err.code, 'USAGE');
        hint = err.hint;
      }
      assert.equal(hint, `write: ${suggestion}`);
      // Pasted, the suggestion parses, and the server is where the command reads it.
      const words = pastedWords(suggestion);
      assert.deepEqual(words.slice(0, 1 + command.name.length), ['dbtls', ...command.name]);
      const p = parse(words.slice(1 + command.name.length), command.options!, command.usage);
      assert.equal(command === crlCommand ? p.values.install : p.positionals[0], target);
    });
  }

  it('keeps the account of require when -h names the server', () => {
    const words = pastedWords(`dbtls require db1 --user root ''\\''app'\\''@'\\''%'\\''' --ssl`);
    const p = parse(words.slice(2), requireCommand.options!, requireCommand.usage);
    assert.deepEqual(p.positionals, ['db1', "'app'@'%'"]);
  });
});
