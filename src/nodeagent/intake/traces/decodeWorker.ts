/**
 * A decode worker thread (`decodePool.ts` starts it): runs one `DecodeTask` per message and answers
 * with its `DecodeReply`, the encoded OTLP bodies transferred back (not copied). A bug that throws is
 * answered as a failure, never left unanswered.
 */
import { parentPort } from 'node:worker_threads';
import { runDecodeTask, type DecodeReply, type DecodeTask } from './decodeTask.js';

export interface WorkerRequest {
  readonly id: number;
  readonly task: DecodeTask;
}
export interface WorkerReply {
  readonly id: number;
  readonly reply: DecodeReply | { readonly ok: false; readonly reason: 'crashed'; readonly message: string };
}

parentPort?.on('message', ({ id, task }: WorkerRequest) => {
  let answer: WorkerReply;
  try {
    answer = { id, reply: runDecodeTask(task) };
  } catch (e) {
    answer = { id, reply: { ok: false, reason: 'crashed', message: `the decoder failed: ${(e as Error)?.message ?? String(e)}` } };
  }
  const transfer = answer.reply.ok && answer.reply.otlp ? answer.reply.otlp.map((p) => p.body.buffer as ArrayBuffer) : [];
  parentPort!.postMessage(answer, transfer);
});
