import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { colorWanted, createRenderer, redacting } from '../../../src/cli/render.js';
import { DbtlsError, type ErrorCode } from '../../../src/errors.js';

function capture(isTTY: boolean) {
  const out = { stdout: '', stderr: '' };
  const render = createRenderer(
    {
      write: (t) => {
        out.stdout += t;
      },
      isTTY,
    },
    {
      write: (t) => {
        out.stderr += t;
      },
      isTTY,
    },
  );
  return { out, render };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the renderer', () => {
  it('busy: ticks the elapsed time on a TTY and clears the line, and returns the result', async () => {
    const { out, render } = capture(true);
    const value = await render.busy(
      'generating an RSA-4096 key',
      wait(250).then(() => 42),
    );
    assert.equal(value, 42);
    const ticks = out.stderr.split('\r').filter((t) => t.startsWith('generating an RSA-4096 key… '));
    assert.ok(ticks.length >= 2, `expected the line to update, got ${JSON.stringify(out.stderr)}`);
    assert.match(ticks[0]!, /^generating an RSA-4096 key… 0\.\d s$/);
    assert.ok(out.stderr.endsWith('\r\x1b[2K'));
    assert.equal(out.stdout, '');
  });

  it('busy: prints nothing when stderr is not a TTY, and passes a failure through after clearing', async () => {
    const plain = capture(false);
    assert.equal(await plain.render.busy('x', Promise.resolve('ok')), 'ok');
    assert.equal(plain.out.stderr, '');
    const tty = capture(true);
    await assert.rejects(tty.render.busy('x', Promise.reject(new Error('boom'))), /boom/);
    assert.ok(tty.out.stderr.endsWith('\r\x1b[2K'));
  });

  it('error: `error[CODE]: message`, `hint: …`, and the exit code of the error kind', () => {
    const { out, render } = capture(false);
    const code = render.error(
      new DbtlsError('BAD_PEM' as ErrorCode, 'could not read a.pem: not PEM', { hint: 'check the file' }),
    );
    assert.equal(code, 2);
    assert.equal(out.stderr, 'error[BAD_PEM]: could not read a.pem: not PEM\nhint: check the file\n');
    // Issue 10 item 16: 2 only for usage or bad input; a runtime failure has its own code, 3.
    const check = render.error(new DbtlsError('LOCKOUT_PREVENTED', 'could not log in'));
    const runtime = render.error(new DbtlsError('REVERT_FAILED', 'could not revert'));
    assert.deepEqual([check, runtime], [1, 3]);
  });

  it('json: bigints as decimal strings, Buffers as hex', () => {
    const { out, render } = capture(false);
    render.json({ serial: 2n ** 70n, fingerprint: Buffer.from([0xde, 0xad]) });
    assert.deepEqual(JSON.parse(out.stdout), { serial: '1180591620717411303424', fingerprint: 'dead' });
  });
});

describe('the renderer prints network text inert and redacts DSN passwords (issue 9, items 12 and 13)', () => {
  const hostile = 'v1\x1b[2J\x1b]0;t\x07\u202egnp\x9b';

  it('lines, warnings and errors: control and bidi characters escaped, newlines kept', () => {
    const { out, render } = capture(false);
    render.lines(`a ${hostile}`, 'two\nlines');
    render.warn(hostile);
    render.error(new DbtlsError('X' as ErrorCode, `could not x: ${hostile}`, { hint: hostile }));
    assert.equal(out.stdout, 'a v1\\x1b[2J\\x1b]0;t\\x07\\u{202e}gnp\\x9b\ntwo\nlines\n');
    assert.doesNotMatch(out.stderr, /[\x1b\x07\u202e\x9b]/u);
    assert.match(out.stderr, /^error\[X\]: could not x: v1\\x1b\[2J/m);
  });

  it('JSON: the same value, with C1 and bidi characters written as \\u escapes', () => {
    const { out, render } = capture(false);
    render.json({ version: hostile });
    assert.doesNotMatch(out.stdout, /[\x1b\x07\u202e\x9b]/u);
    assert.deepEqual(JSON.parse(out.stdout), { version: hostile });
  });

  it('redacts a DSN password everywhere, and the passwords redacting() is given even when not in a DSN', () => {
    const { out, render } = capture(false);
    const r = redacting(render, ['s3cr%t', 's3cr@t']);
    r.lines('target mysql://u:pw-1@h:3306/db');
    r.json({ target: 'mysql://u:pw-2@h', echoed: 'argv s3cr@t and s3cr%t' });
    r.error(
      new DbtlsError('X' as ErrorCode, 'could not run dbtls conect s3cr@t', { hint: 'mysql://a:pw-3@b' }),
    );
    assert.doesNotMatch(out.stdout + out.stderr, /pw-[123]|s3cr/);
    assert.deepEqual(JSON.parse(out.stdout.slice(out.stdout.indexOf('{'))), {
      target: 'mysql://u:***@h',
      echoed: 'argv *** and ***',
    });
  });
});

describe('colour (issue 14, item 13)', () => {
  const colored = (color: boolean) => {
    const out = { stdout: '', stderr: '' };
    const render = createRenderer(
      {
        write: (t) => {
          out.stdout += t;
        },
        isTTY: color,
        color,
      },
      {
        write: (t) => {
          out.stderr += t;
        },
        isTTY: color,
        color,
      },
    );
    return { out, render };
  };

  it('colours ✓, ✗, severities and errors on a terminal, and only dbtls escapes get through', () => {
    const { out, render } = colored(true);
    render.lines('verify-full ✓', 'plaintext ✗ [high] a finding', 'server said \u001b[2J');
    render.error(new DbtlsError('USAGE', 'could not x: y'));
    assert.equal(
      out.stdout,
      'verify-full \x1b[32m✓\x1b[0m\nplaintext \x1b[31m✗\x1b[0m [\x1b[31mhigh\x1b[0m] a finding\nserver said \\x1b[2J\n',
    );
    assert.match(out.stderr, /^\x1b\[1m\x1b\[31merror\[USAGE\]\x1b\[0m: could not x: y\n/);
  });

  it('prints no escape without a terminal, with NO_COLOR, or with --no-color', () => {
    const { out, render } = colored(false);
    render.lines('verify-full ✓');
    assert.equal(out.stdout, 'verify-full ✓\n');
    assert.equal(colorWanted(true, {}, false), true);
    assert.equal(colorWanted(false, {}, false), false);
    assert.equal(colorWanted(true, { NO_COLOR: '1' }, false), false);
    assert.equal(colorWanted(true, {}, true), false);
  });
});

describe('a value with a newline cannot print a line that looks like dbtls its own', () => {
  it('error[, hint:, warning:, Wrote, ✓ and ✗ after a newline inside a value are escaped; other newlines stay', () => {
    const { out, render } = capture(false);
    render.lines('subject leaf\nerror[FAKE]: forged\nhint: run rm -rf', 'line one\nline two');
    render.warn('alias a\nWrote /etc/passwd');
    render.error(
      new DbtlsError('CERT_MALFORMED', 'could not read leaf\n✓ all good', { hint: 'x\nwarning: y' }),
    );
    assert.equal(
      out.stdout,
      'subject leaf\\x0aerror[FAKE]: forged\\x0ahint: run rm -rf\nline one\nline two\n',
    );
    assert.equal(
      out.stderr,
      'warning: alias a\\x0aWrote /etc/passwd\n' +
        'error[CERT_MALFORMED]: could not read leaf\\x0a✓ all good\n' +
        'hint: x\\x0awarning: y\n',
    );
  });
});
