/**
 * Worker-thread entry of batch issuance (src/ca/batch.ts starts it; like src/cli/main.ts, running on
 * load is this file's purpose). It waits for one ShardJob, signs its share, and answers with the entries,
 * or with the error as plain fields (a DbtlsError loses its class crossing threads).
 */
import { parentPort } from 'node:worker_threads';
import { type ErrorCode, isDbtlsError } from '../errors.js';
import { runShard, type ShardJob, type ShardResult } from './batch-sign.js';

/** What a shard worker posts back. */
export type ShardMessage =
  | { readonly kind: 'progress'; readonly done: number }
  | { readonly kind: 'done'; readonly results: ShardResult[] }
  | { readonly kind: 'failed'; readonly code?: ErrorCode; readonly message: string; readonly hint?: string };

const port = parentPort;
if (port) {
  port.once('message', (job: ShardJob) => {
    let reply: ShardMessage;
    try {
      const results = runShard(job, undefined, (done) => port.postMessage({ kind: 'progress', done }));
      reply = { kind: 'done', results };
    } catch (err) {
      reply = isDbtlsError(err)
        ? { kind: 'failed', code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) }
        : { kind: 'failed', message: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
    port.close();
  });
}
