import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DbtlsError } from '../../../src/errors.js';
import {
  completeStage,
  nextStage,
  promoteNextCa,
  type RolloverState,
  readRolloverState,
  rolloverComplete,
  stageCommand,
  stageDecision,
  writeRolloverState,
} from '../../../src/server/rotation/rollover.js';

const NOW = new Date('2026-11-23T09:00:00Z');
const ROOT = { subject: '/CN=old', fingerprint: 'aa', notAfter: '2036-01-01T00:00:00.000Z' };

function state(completed: RolloverState['completed']): RolloverState {
  return { version: 1, startedAt: NOW.toISOString(), completed, oldRoot: ROOT, history: [] };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof DbtlsError ? err.code : 'not-a-DbtlsError';
  }
  return undefined;
}

describe('rollover stages', () => {
  const table: [RolloverState['completed'] | undefined, string | undefined][] = [
    [undefined, 'new-ca'],
    [[], 'new-ca'],
    [['new-ca'], 'trust-both'],
    [['new-ca', 'trust-both'], 'reissue'],
    [['new-ca', 'trust-both', 'reissue'], 'retire-old'],
    [['new-ca', 'trust-both', 'reissue', 'retire-old'], undefined],
  ];
  for (const [completed, next] of table) {
    it(`after ${JSON.stringify(completed)} the next stage is ${next}`, () => {
      assert.equal(nextStage(completed ? state(completed) : undefined), next);
    });
  }

  it('runs the next stage, skips a completed one, refuses one out of order', () => {
    assert.equal(stageDecision(undefined, 'new-ca'), 'run');
    assert.equal(stageDecision(state(['new-ca']), 'trust-both'), 'run');
    assert.equal(stageDecision(state(['new-ca']), 'new-ca'), 'done');
    assert.equal(
      code(() => stageDecision(undefined, 'trust-both')),
      'ROLLOVER_OUT_OF_ORDER',
    );
    assert.equal(
      code(() => stageDecision(state(['new-ca']), 'retire-old')),
      'ROLLOVER_OUT_OF_ORDER',
    );
  });

  it('restarts at new-ca once the rollover is complete', () => {
    const done = state(['new-ca', 'trust-both', 'reissue', 'retire-old']);
    assert.equal(rolloverComplete(done), true);
    assert.equal(stageDecision(done, 'new-ca'), 'restart');
    assert.equal(stageDecision(done, 'reissue'), 'done');
  });

  it('records a completed stage once, with its summary', () => {
    const s1 = completeStage(state([]), 'new-ca', 'made /CN=new', NOW);
    assert.deepEqual(s1.completed, ['new-ca']);
    assert.deepEqual(s1.history, [{ stage: 'new-ca', at: NOW.toISOString(), summary: 'made /CN=new' }]);
    assert.equal(completeStage(s1, 'new-ca', 'again', NOW), s1);
  });

  it('names the command of each stage', () => {
    assert.equal(stageCommand('new-ca'), 'dbtls rotate --ca-rollover --stage new-ca');
    assert.equal(stageCommand('trust-both'), 'dbtls rotate ADMIN_TARGET --ca-rollover --stage trust-both');
  });
});

describe('rollover state file and promotion', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbtls-rollover-unit-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips the state and reports a damaged file', () => {
    const caDir = path.join(dir, 'state');
    fs.mkdirSync(caDir);
    assert.equal(readRolloverState(caDir), undefined);
    const s = state(['new-ca']);
    writeRolloverState(caDir, s);
    assert.deepEqual(readRolloverState(caDir), s);
    fs.writeFileSync(path.join(caDir, 'rollover.json'), '{"version": 7}');
    assert.equal(
      code(() => readRolloverState(caDir)),
      'ROLLOVER_STATE_MALFORMED',
    );
  });

  it('swaps the CAs, keeps the rollover entries in place, and resumes after a crash', () => {
    const caDir = path.join(dir, 'promote');
    fs.mkdirSync(path.join(caDir, 'next/certs'), { recursive: true });
    fs.mkdirSync(path.join(caDir, 'certs'));
    for (const f of ['ca.json', 'root.pem', 'index.jsonl']) {
      fs.writeFileSync(path.join(caDir, f), `old ${f}`);
      fs.writeFileSync(path.join(caDir, 'next', f), `new ${f}`);
    }
    fs.writeFileSync(path.join(caDir, 'trust-bundle.pem'), 'bundle');
    fs.writeFileSync(path.join(caDir, '.lock'), '1');
    const saved: RolloverState[] = [];
    // A crash after the old CA moved: the saved state says 'moving-new'.
    const crashAfterOld = (s: RolloverState) => {
      saved.push(s);
      if (s.promotion === 'moving-new') throw new Error('crash');
    };
    assert.throws(
      () => promoteNextCa(caDir, state(['new-ca', 'trust-both']), crashAfterOld, '.lock'),
      /crash/,
    );
    const resumed = promoteNextCa(caDir, saved.at(-1)!, (s) => saved.push(s), '.lock');
    assert.equal(resumed.promotion, 'done');
    assert.equal(fs.readFileSync(path.join(caDir, 'root.pem'), 'utf8'), 'new root.pem');
    assert.equal(fs.readFileSync(path.join(caDir, 'previous/root.pem'), 'utf8'), 'old root.pem');
    assert.equal(fs.readFileSync(path.join(caDir, 'trust-bundle.pem'), 'utf8'), 'bundle');
    assert.ok(fs.existsSync(path.join(caDir, '.lock')));
    assert.ok(fs.existsSync(path.join(caDir, 'certs')));
    assert.ok(fs.existsSync(path.join(caDir, 'previous/certs')));
    assert.equal(fs.existsSync(path.join(caDir, 'next')), false);
  });
});
