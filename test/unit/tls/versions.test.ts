/** TLS versions, one vocabulary (src/tls/versions.ts, issue 11 item 5): one parser, two policies. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDbtlsError } from '../../../src/errors.js';
import { parseTlsVersions } from '../../../src/server/tls/config.js';
import {
  NODE_TLS_VERSION,
  parseTlsMinVersion,
  parseTlsVersion,
  TLS_VERSIONS,
  versionFromNode,
} from '../../../src/tls/versions.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isDbtlsError(err)) return err.code;
    throw err;
  }
  return 'ok';
}

describe('parseTlsVersion: what users write, in one spelling', () => {
  const table: [string, string][] = [
    ['TLSv1.2', 'TLSv1.2'],
    ['tlsv1.3', 'TLSv1.3'],
    [' 1.2 ', 'TLSv1.2'],
    ['TLS1.3', 'TLSv1.3'],
    ['TLSv1', 'TLSv1.0'],
    ['1', 'TLSv1.0'],
    ['1.0', 'TLSv1.0'],
    ['TLSv1.1', 'TLSv1.1'],
  ];
  for (const [text, version] of table)
    it(JSON.stringify(text), () => assert.equal(parseTlsVersion(text), version));

  for (const text of ['', 'ssl3', 'SSLv3', '1.4', 'TLSv2', 'TLSv1.2,TLSv1.3']) {
    it(`${JSON.stringify(text)}: TLS_VERSION_UNKNOWN`, () =>
      assert.equal(
        codeOf(() => parseTlsVersion(text)),
        'TLS_VERSION_UNKNOWN',
      ));
  }
});

describe('the two policies over the one parser', () => {
  it("the client's floor: 1.2 or 1.3, TLS_VERSION_INSECURE below, TLS_VERSION_UNKNOWN for the unreadable", () => {
    assert.deepEqual(
      ['1.2', 'TLSv1.3', 'TLSv1', '1.1', 'x'].map((t) => codeOf(() => parseTlsMinVersion(t))),
      ['ok', 'ok', 'TLS_VERSION_INSECURE', 'TLS_VERSION_INSECURE', 'TLS_VERSION_UNKNOWN'],
    );
  });

  it("the server's tls_version list: sorted, deduplicated, 1.0 and 1.1 refused, unreadable items named", () => {
    assert.deepEqual(parseTlsVersions('1.3, tlsv1.2,TLSv1.3'), ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(
      ['TLSv1.0,TLSv1.2', 'TLSv1.2,SSLv3'].map((t) => codeOf(() => parseTlsVersions(t))),
      ['TLS_VERSION_INSECURE', 'TLS_VERSION_UNKNOWN'],
    );
  });
});

describe("node's spelling at the boundary", () => {
  it('every version has a node name, and getProtocol() maps back to the same version', () => {
    for (const v of TLS_VERSIONS) assert.equal(versionFromNode(NODE_TLS_VERSION[v]), v);
    assert.equal(NODE_TLS_VERSION['TLSv1.0'], 'TLSv1');
    assert.deepEqual([versionFromNode('unknown'), versionFromNode('SSLv3')], [undefined, undefined]);
  });
});
