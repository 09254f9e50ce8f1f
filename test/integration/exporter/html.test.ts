/**
 * `dbtls inspect ... --html FILE` opened in a real headless Chromium (Debian's, driven by playwright-core):
 * no request leaves the page, every target and finding is in the DOM, sorting by severity and expiry
 * works, and screenshots (wide and narrow) are written under .tmp/ as test artifacts. The fleet is real:
 * MariaDB servers with TLS off, TLS 1.1 accepted, an expired certificate and a good one, and a closed port.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium } from 'playwright-core';
import type { FleetEntry } from '../../../src/inspect/fleet.js';
import { PROJECT_ROOT, runCli } from '../../harness/cli.js';
import { type MariadbInstance, startMariadb } from '../../harness/mariadb.js';
import { makeTestPki, type TestPki } from '../../harness/pki.js';

const ARTIFACTS = path.join(PROJECT_ROOT, '.tmp');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SEVERITY_RANK: Record<string, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

let pki: TestPki;
let servers: MariadbInstance[] = [];
let closedPort: number;
let tmp: string;
let context: BrowserContext | undefined;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-html-'));
  pki = await makeTestPki();
  const tls = (c: { cert: string; key: string }) => ({ ca: pki.ca, cert: c.cert, key: c.key });
  [servers, closedPort] = await Promise.all([
    Promise.all([
      startMariadb({}),
      startMariadb({
        tls: tls(pki.server),
        tlsVersion: 'TLSv1.1,TLSv1.2',
        sslCipher: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-GCM-SHA384:@SECLEVEL=0',
      }),
      startMariadb({ tls: tls(pki.expired) }),
      startMariadb({ tls: tls(pki.server) }),
    ]),
    freePort(),
  ]);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await context?.close();
  await Promise.all(servers.map((s) => s.stop()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the HTML report in headless Chromium', () => {
  it('makes no request, holds every target and finding, sorts, and is screenshotted', {
    timeout: 180_000,
  }, async () => {
    const targets = [...servers.map((s) => `127.0.0.1:${s.port}`), `127.0.0.1:${closedPort}`];
    const page = path.join(tmp, 'report.html');
    const r = await runCli(['inspect', ...targets, '--ca', pki.ca, '--html', page, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const fleet = JSON.parse(r.stdout) as { targets: FleetEntry[] };
    const html = fs.readFileSync(page, 'utf8');
    assert.doesNotMatch(html, /\bsrc=|https?:\/\/|@import|url\(/i, 'nothing in the page points elsewhere');

    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1200, height: 900 },
    });
    const requests: string[] = [];
    context.on('request', (req) => requests.push(req.url()));
    const tab = await context.newPage();
    const url = pathToFileURL(page).href;
    await tab.goto(url);
    assert.deepEqual(requests, [url], 'the page itself, and no other request');

    // Every target has its row and its section; every finding is there with its fix.
    // Read in the page (a string, so that this Node-typed file needs no DOM types).
    const dom = (await tab.evaluate(`({
      rows: [...document.querySelectorAll('#targets tbody tr')].map((tr) => tr.dataset.target),
      sections: [...document.querySelectorAll('article.target-detail')].map((a) => ({
        target: a.querySelector('h3')?.textContent,
        findings: [...a.querySelectorAll('[data-finding]')].map((f) => ({ id: f.dataset.finding, text: f.textContent })),
        text: a.textContent,
      })),
    })`)) as {
      rows: string[];
      sections: { target: string; findings: { id: string; text: string }[]; text: string }[];
    };
    assert.deepEqual(dom.rows, targets);
    assert.deepEqual(
      dom.sections.map((s) => s.target),
      targets,
    );
    for (const [i, e] of fleet.targets.entries()) {
      const section = dom.sections[i]!;
      if ('error' in e) {
        assert.ok(section.text?.includes(e.error.code) && section.text.includes(e.error.message), e.target);
        continue;
      }
      assert.deepEqual(
        section.findings.map((f) => f.id),
        e.findings.map((f) => f.id),
        e.target,
      );
      for (const [j, f] of e.findings.entries()) {
        assert.ok(section.findings[j]!.text?.includes(f.message), `${e.target} ${f.id} message`);
        assert.ok(section.findings[j]!.text?.includes(`fix: ${f.fix}`), `${e.target} ${f.id} fix`);
      }
    }
    assert.ok(
      fleet.targets.some((e) => !('error' in e) && e.findings.length > 1),
      'a target with findings',
    );

    // Sorting: by expiry (soonest first; no certificate last), then by worst severity (errors worst).
    const days = (e: FleetEntry) =>
      'error' in e
        ? Number.POSITIVE_INFINITY
        : (e.certificate?.chain[0]?.daysLeft ?? Number.POSITIVE_INFINITY);
    const rank = (e: FleetEntry) =>
      'error' in e ? 5 : e.findings[0] ? SEVERITY_RANK[e.findings[0].severity]! : -1;
    const order = (key: (e: FleetEntry) => number, dir: 1 | -1) =>
      fleet.targets
        .map((e, i) => ({ e, i }))
        .sort((a, b) => (key(a.e) < key(b.e) ? -dir : key(a.e) > key(b.e) ? dir : 0) || a.i - b.i)
        .map(({ e }) => e.target);
    const rows = async () =>
      (await tab.evaluate(
        `[...document.querySelectorAll('#targets tbody tr')].map((tr) => tr.dataset.target)`,
      )) as string[];
    await tab.click('button[data-key="days"]');
    assert.deepEqual(await rows(), order(days, 1), 'expiry, soonest first');
    assert.equal((await rows())[0], `127.0.0.1:${servers[2]!.port}`, 'the expired certificate first');
    await tab.click('button[data-key="days"]');
    assert.deepEqual(await rows(), order(days, -1), 'expiry, reversed');
    await tab.click('button[data-key="severity"]');
    assert.deepEqual(await rows(), order(rank, -1), 'worst first');
    assert.equal(
      (await rows())[0],
      `127.0.0.1:${closedPort}`,
      'the target that could not be inspected first',
    );
    await tab.click('button[data-key="severity"]');
    assert.deepEqual(await rows(), order(rank, 1), 'worst last');

    // The timeline has a mark per certificate served (leaves and CAs).
    const marks = (await tab.evaluate(
      `document.querySelectorAll('svg.timeline circle, svg.timeline rect[fill]').length`,
    )) as number;
    const certificates = fleet.targets.reduce(
      (n, e) => n + ('error' in e ? 0 : (e.certificate?.chain.length ?? 0)),
      0,
    );
    assert.equal(marks - 1, certificates, 'one mark per certificate, plus the 30-day band');

    await tab.click('button[data-key="severity"]');
    await tab.screenshot({ path: path.join(ARTIFACTS, 'inspect-report.png'), fullPage: true });
    await tab.setViewportSize({ width: 390, height: 800 });
    await tab.screenshot({ path: path.join(ARTIFACTS, 'inspect-report-narrow.png'), fullPage: true });
    // On a narrow screen nothing but the table may be wider than the screen.
    const overflow = (await tab.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    )) as number;
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 390px screen`);
    const pdf = await tab.pdf().catch(() => undefined);
    if (pdf) fs.writeFileSync(path.join(ARTIFACTS, 'inspect-report.pdf'), pdf);
    assert.deepEqual(requests, [url], 'still no other request after clicks, resize and print');
  });

  it('an unwritable --html path is refused before any connection (exit 2)', async () => {
    const r = await runCli([
      'inspect',
      `127.0.0.1:${servers[3]!.port}`,
      '--html',
      path.join(tmp, 'missing-dir', 'report.html'),
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^error\[USAGE\]: could not write --html .*report\.html: the directory .*missing-dir does not exist/,
    );
  });
});
