/**
 * A small, bounded pool of decode workers (`node:worker_threads`): trace payloads are decoded and
 * converted there, off the event loop that serves DogStatsD and every HTTP request (I/O).
 *
 * - `size` workers (`TRACE_DECODE_WORKERS`), each capped at `heapMb` of heap: a payload that makes a
 *   worker run out fails alone (answered `too_large`); the worker is replaced.
 * - Tasks wait in order for a free worker. The queue needs no bound of its own: a task holds its body's
 *   bytes in the receiver's in-flight budget until it is answered, so the bytes waiting are bounded there.
 * - The body's memory is transferred to the worker (not copied): the caller must not use it afterwards.
 */
import { Worker } from 'node:worker_threads';
import { TRACE_DECODE_WORKER_HEAP_MB, TRACE_DECODE_WORKERS } from '../../../config/limits.js';
import type { Logger } from '../../../logging/logger.js';
import type { DecodeReply, DecodeTask } from './decodeTask.js';
import type { WorkerReply, WorkerRequest } from './decodeWorker.js';

/** A failure of the pool itself (a worker that died, a pool closed), besides the decoder's own. */
export type PoolReply = DecodeReply | { readonly ok: false; readonly reason: 'crashed' | 'closed'; readonly message: string };

export interface DecodePool {
  run(task: DecodeTask): Promise<PoolReply>;
  /** Tasks waiting for a worker, and running. */
  readonly pending: number;
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  busy: { id: number; resolve: (r: PoolReply) => void } | undefined;
}

const WORKER_URL = new URL('./decodeWorker.js', import.meta.url);

export function createDecodePool(opts: { readonly logger: Logger; readonly size?: number; readonly heapMb?: number }): DecodePool {
  const size = Math.max(1, opts.size ?? TRACE_DECODE_WORKERS);
  const heapMb = opts.heapMb ?? TRACE_DECODE_WORKER_HEAP_MB;
  const log = opts.logger.child({ component: 'trace-decode-pool' });
  const waiting: { task: DecodeTask; resolve: (r: PoolReply) => void }[] = [];
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;

  const spawn = (): Slot => {
    const slot: Slot = { worker: new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: heapMb } }), busy: undefined };
    slot.worker.on('message', (m: WorkerReply) => {
      const b = slot.busy;
      if (!b || b.id !== m.id) return;
      slot.busy = undefined;
      b.resolve(m.reply);
      next();
    });
    // A worker out of memory (or killed) ends: its task fails, a new worker takes its place.
    const died = (why: string) => {
      const i = slots.indexOf(slot);
      if (i === -1) return;
      slots.splice(i, 1);
      const b = slot.busy;
      slot.busy = undefined;
      if (b) b.resolve({ ok: false, reason: 'crashed', message: `the decode worker ended on this payload (${why}): larger than this node agent can decode` });
      if (closed) return;
      log.warn({ why }, `a trace decode worker ended (${why}); starting another`);
      slots.push(spawn());
      next();
    };
    slot.worker.on('error', (e) => died(e.message));
    slot.worker.on('exit', (code) => died(`exit code ${code}`));
    slot.worker.unref();
    return slot;
  };

  const next = () => {
    for (const slot of slots) {
      if (slot.busy) continue;
      const w = waiting.shift();
      if (!w) return;
      const id = nextId++;
      slot.busy = { id, resolve: w.resolve };
      const body = w.task.body;
      // Transfer the body's memory when the body is all of it (a pooled small Buffer shares its memory: copied).
      const transfer = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? [body.buffer as ArrayBuffer] : [];
      slot.worker.postMessage({ id, task: w.task } satisfies WorkerRequest, transfer);
    }
  };

  for (let i = 0; i < size; i++) slots.push(spawn());

  return {
    run(task) {
      if (closed) return Promise.resolve({ ok: false, reason: 'closed', message: 'the trace receiver is stopping' });
      return new Promise<PoolReply>((resolve) => {
        waiting.push({ task, resolve });
        next();
      });
    },
    get pending() {
      return waiting.length + slots.filter((s) => s.busy).length;
    },
    async close() {
      closed = true;
      const stopping = { ok: false, reason: 'closed', message: 'the trace receiver is stopping' } as const;
      for (const w of waiting.splice(0)) w.resolve(stopping);
      const all = slots.splice(0);
      for (const s of all) s.busy?.resolve(stopping);
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}
