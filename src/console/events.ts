/**
 * The console's server-sent events (issue 12, `GET /api/v1/console/events`; the event names and shapes
 * are `ConsoleEvents` in types.ts). Changes from the cluster agent's watches are coalesced: pods and
 * nodes that changed are remembered (the latest state wins) and sent together every `flushMs`, so a pod
 * updated ten times in a second is one row, and a re-list of 150,000 pods is one `resync` per stream
 * rather than 150,000 rows (more than `maxRows` pending → `resync`). Webhook health and diagnose are
 * sent as they come (they change rarely). Every stream gets a heartbeat; a stream whose client does not
 * read (more than `maxBufferedBytes` waiting) is cut; logout, session expiry and shutdown end the
 * streams with `bye`.
 *
 * Timers and clock are injected, so the coalescing is tested with a manual clock.
 */
import {
  CONSOLE_EVENTS_FLUSH_MS,
  CONSOLE_EVENTS_HEARTBEAT_MS,
  CONSOLE_EVENTS_MAX_BUFFERED_BYTES,
  CONSOLE_EVENTS_MAX_CLIENTS,
  CONSOLE_EVENTS_MAX_ROWS,
} from '../config/limits.js';
import type { PodView } from '../clusterview/types.js';
import type { ByeEvent, ConsoleEventName, ConsoleEvents, NodeRow, OverviewCounts, PodRef, PodRow } from './types.js';

/** What the hub needs of a response: a writable stream. */
export interface EventSink {
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  readonly writableLength: number;
}

export interface HubTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

export const REAL_HUB_TIMERS: HubTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (id) => clearInterval(id as NodeJS.Timeout),
};

export interface EventHubOptions {
  readonly rowOf: (pod: PodView) => PodRow;
  readonly nodeRowOf: (node: string) => NodeRow | undefined;
  readonly counts: () => OverviewCounts;
  readonly timers?: HubTimers;
  readonly flushMs?: number;
  readonly heartbeatMs?: number;
  readonly maxRows?: number;
  readonly maxBufferedBytes?: number;
  readonly maxClients?: number;
}

export interface AttachOptions {
  /** Only this node's pod rows (and pods that left it). */
  readonly node?: string;
  /** The session whose logout or expiry ends this stream. */
  readonly sessionId?: string;
}

export interface EventHub {
  /** One pod changed (old and new as the store had them; undefined: absent). */
  podChanged(old: PodView | undefined, pod: PodView | undefined): void;
  /** A node's counts or existence changed. */
  nodeChanged(node: string): void;
  /** Sends at once to every stream. */
  broadcast<E extends 'webhook' | 'diagnose' | 'resync' | 'counts'>(event: E, data: ConsoleEvents[E]): void;
  /** Starts a stream on `sink` (after the response headers are written); false when too many are open. */
  attach(sink: EventSink, opts?: AttachOptions): { readonly detach: () => void } | undefined;
  /** Ends the streams of a session. */
  endSession(sessionId: string, reason: ByeEvent['reason']): void;
  /** Sends what is pending now (the timer does it every `flushMs`). */
  flush(): void;
  /** Ends every stream with `bye` and stops the timers. */
  close(reason?: ByeEvent['reason']): void;
  readonly clients: () => number;
}

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  // No proxy buffering (nginx): events must arrive as they are sent.
  'X-Accel-Buffering': 'no',
} as const;

export function sseMessage<E extends ConsoleEventName>(event: E, data: ConsoleEvents[E]): string {
  // JSON.stringify never emits a raw newline, so the data is one `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

interface Client {
  readonly sink: EventSink;
  readonly node?: string;
  readonly sessionId?: string;
}

interface PendingPod {
  /** The node the pod was on when the first change of this flush came (undefined: did not exist). */
  readonly before: PodView | undefined;
  now: PodView | undefined;
}

const podKey = (p: PodView): string => `${p.namespace}/${p.name}`;

export function createEventHub(o: EventHubOptions): EventHub {
  const timers = o.timers ?? REAL_HUB_TIMERS;
  const flushMs = o.flushMs ?? CONSOLE_EVENTS_FLUSH_MS;
  const heartbeatMs = o.heartbeatMs ?? CONSOLE_EVENTS_HEARTBEAT_MS;
  const maxRows = o.maxRows ?? CONSOLE_EVENTS_MAX_ROWS;
  const maxBuffered = o.maxBufferedBytes ?? CONSOLE_EVENTS_MAX_BUFFERED_BYTES;
  const maxClients = o.maxClients ?? CONSOLE_EVENTS_MAX_CLIENTS;

  const clients = new Set<Client>();
  let pods = new Map<string, PendingPod>();
  let nodes = new Set<string>();
  /** Pending changes counted, even those beyond what is kept (a storm is not kept whole). */
  let podChanges = 0;
  let overflow = false;
  let flushTimer: unknown;
  let heartbeat: unknown;
  let closed = false;

  const send = (c: Client, chunk: string): void => {
    if (c.sink.writableLength > maxBuffered) {
      // Not reading: cut it; its EventSource reconnects and refetches.
      clients.delete(c);
      c.sink.destroy();
      return;
    }
    c.sink.write(chunk);
  };

  const schedule = (): void => {
    if (flushTimer !== undefined || closed || clients.size === 0) return;
    flushTimer = timers.setTimeout(() => {
      flushTimer = undefined;
      flush();
    }, flushMs);
  };

  const startHeartbeat = (): void => {
    if (heartbeat !== undefined) return;
    heartbeat = timers.setInterval(() => {
      const chunk = sseMessage('heartbeat', { at: new Date(timers.now()).toISOString() });
      for (const c of [...clients]) send(c, chunk);
    }, heartbeatMs);
  };
  const stopHeartbeatIfIdle = (): void => {
    if (clients.size > 0 || heartbeat === undefined) return;
    timers.clearInterval(heartbeat);
    heartbeat = undefined;
  };

  const flush = (): void => {
    if (flushTimer !== undefined) {
      timers.clearTimeout(flushTimer);
      flushTimer = undefined;
    }
    if (clients.size === 0 || (podChanges === 0 && nodes.size === 0)) return;
    const pending = pods;
    const changedNodes = nodes;
    const changes = podChanges;
    const storm = overflow;
    pods = new Map();
    nodes = new Set();
    podChanges = 0;
    overflow = false;

    // Rows are built once per flush, and filtered per stream.
    const upserted: PodRow[] = [];
    const deleted: PodRef[] = [];
    /** For each row, the nodes it concerns (before and now). */
    const upsertedNodes: (readonly string[])[] = [];
    const deletedNodes: string[] = [];
    if (!storm) {
      for (const p of pending.values()) {
        if (p.now) {
          upserted.push(o.rowOf(p.now));
          upsertedNodes.push(p.before && p.before.node !== p.now.node ? [p.before.node, p.now.node] : [p.now.node]);
        } else if (p.before) {
          deleted.push({ namespace: p.before.namespace, name: p.before.name, node: p.before.node });
          deletedNodes.push(p.before.node);
        }
      }
    }
    const nodeRows: NodeRow[] = [];
    const goneNodes: string[] = [];
    const nodeStorm = changedNodes.size > maxRows;
    if (!nodeStorm) {
      for (const n of changedNodes) {
        const row = o.nodeRowOf(n);
        if (row) nodeRows.push(row);
        else goneNodes.push(n);
      }
    }
    const counts = sseMessage('counts', o.counts());
    const allPods = storm ? undefined : sseMessage('pods', { upserted, deleted });

    for (const c of [...clients]) {
      let chunk = '';
      if (storm) chunk += sseMessage('resync', { what: 'pods', changes });
      else if (c.node === undefined) {
        if (upserted.length || deleted.length) chunk += allPods;
      } else {
        const mine = upserted.filter((_, i) => (upsertedNodes[i] as readonly string[]).includes(c.node as string));
        // A pod that moved away from this node is a deletion from this node's list.
        const left = mine.filter((r) => r.node !== c.node).map((r) => ({ namespace: r.namespace, name: r.name, node: c.node as string }));
        const rows = mine.filter((r) => r.node === c.node);
        const gone = [...deleted.filter((_, i) => deletedNodes[i] === c.node), ...left];
        if (rows.length > maxRows) chunk += sseMessage('resync', { what: 'pods', changes: rows.length });
        else if (rows.length || gone.length) chunk += sseMessage('pods', { upserted: rows, deleted: gone });
      }
      if (nodeStorm) chunk += sseMessage('resync', { what: 'nodes', changes: changedNodes.size });
      else if (nodeRows.length || goneNodes.length) chunk += sseMessage('nodes', { rows: nodeRows, deleted: goneNodes });
      chunk += counts;
      send(c, chunk);
    }
  };

  const remove = (c: Client, bye?: ByeEvent['reason']): void => {
    if (!clients.delete(c)) return;
    if (bye) c.sink.write(sseMessage('bye', { reason: bye }));
    c.sink.end();
    stopHeartbeatIfIdle();
  };

  return {
    podChanged(old, pod) {
      if (closed || clients.size === 0) return;
      podChanges++;
      if (old?.node) nodes.add(old.node);
      if (pod?.node) nodes.add(pod.node);
      if (!overflow) {
        const key = podKey((pod ?? old) as PodView);
        const p = pods.get(key);
        if (p) p.now = pod;
        else pods.set(key, { before: old, now: pod });
        // Beyond what a flush sends, nothing more is kept: the streams will be told to resync.
        if (pods.size > maxRows) {
          overflow = true;
          pods = new Map();
        }
      }
      schedule();
    },
    nodeChanged(node) {
      if (closed || clients.size === 0) return;
      nodes.add(node);
      schedule();
    },
    broadcast(event, data) {
      const chunk = sseMessage(event, data);
      for (const c of [...clients]) send(c, chunk);
    },
    attach(sink, opts = {}) {
      if (closed || clients.size >= maxClients) return undefined;
      const c: Client = { sink, ...(opts.node !== undefined ? { node: opts.node } : {}), ...(opts.sessionId !== undefined ? { sessionId: opts.sessionId } : {}) };
      clients.add(c);
      startHeartbeat();
      sink.write(`retry: 3000\n\n`);
      sink.write(sseMessage('hello', { at: new Date(timers.now()).toISOString(), heartbeatMs, flushMs, maxRowsPerFlush: maxRows, ...(opts.node !== undefined ? { node: opts.node } : {}) }));
      return {
        detach: () => {
          clients.delete(c);
          stopHeartbeatIfIdle();
        },
      };
    },
    endSession(sessionId, reason) {
      for (const c of [...clients]) if (c.sessionId === sessionId) remove(c, reason);
    },
    flush,
    close(reason = 'shutdown') {
      if (closed) return;
      closed = true;
      if (flushTimer !== undefined) timers.clearTimeout(flushTimer);
      flushTimer = undefined;
      for (const c of [...clients]) remove(c, reason);
      if (heartbeat !== undefined) timers.clearInterval(heartbeat);
      heartbeat = undefined;
    },
    clients: () => clients.size,
  };
}
