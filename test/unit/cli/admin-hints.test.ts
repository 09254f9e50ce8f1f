/**
 * A server command's hint that names another server command carries the target and the admin-session
 * flags the user gave, spelled as that command spells them (issue 14 items 4 and 5).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Parsed } from '../../../src/cli/args.js';
import { adminCommandLine } from '../../../src/cli/server-admin.js';

const given = (values: Parsed['values']): Parsed => ({ values, positionals: [] });

describe('adminCommandLine', () => {
  const fromUsers = given({
    ca: 'ca dir/root.pem',
    user: 'ops',
    'password-file': 'pw',
    'ssl-mode': 'verify-ca',
  });
  it('keeps --ca for the commands whose --ca is the admin CA', () => {
    assert.equal(
      adminCommandLine(fromUsers, 'db1:3307', ['require'], "O'Brien@%", '--ssl'),
      "dbtls require db1:3307 'O'\\''Brien@%' --ssl --ssl-mode verify-ca --ca 'ca dir/root.pem' --user ops --password-file pw",
    );
  });
  it('writes --admin-ca where --ca means another file, and --admin-user in secure', () => {
    assert.equal(
      adminCommandLine(fromUsers, 'db1', ['server', 'enable']),
      "dbtls server enable db1 --ssl-mode verify-ca --admin-ca 'ca dir/root.pem' --user ops --password-file pw",
    );
    assert.equal(
      adminCommandLine(fromUsers, 'db1', ['secure']),
      "dbtls secure db1 --ssl-mode verify-ca --admin-ca 'ca dir/root.pem' --admin-user ops --password-file pw",
    );
  });
  it('reads --admin-ca/--admin-user back into --ca/--user, and carries --socket', () => {
    const fromSecure = given({
      'admin-ca': 'r.pem',
      'admin-user': 'root',
      socket: '/run/m.sock',
      account: ['app@%'],
    });
    assert.equal(
      adminCommandLine(fromSecure, 'localhost', ['users']),
      'dbtls users localhost --ca r.pem --user root --socket /run/m.sock',
    );
  });
});
