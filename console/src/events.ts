/**
 * The live stream (`GET events`, server-sent events) spread to whichever views are listening: each view
 * subscribes to the events it shows and applies them to what it has, so nothing is refetched on a
 * change. After a reconnect the stream may have missed changes: listeners get a `resync` of both lists
 * (the API's own way to say "refetch what is shown").
 */
import { CONSOLE_PATHS, type ConsoleEventName, type ConsoleEvents } from '../../src/console/types.js';
import { apiUrl } from './api.js';

type Listener<K extends ConsoleEventName> = (data: ConsoleEvents[K]) => void;

/** Every event name, checked against ConsoleEvents by the compiler (a new event fails the build here). */
const EVENT_NAMES = Object.keys({
  hello: true,
  heartbeat: true,
  pods: true,
  nodes: true,
  counts: true,
  webhook: true,
  diagnose: true,
  resync: true,
  bye: true,
} satisfies Record<ConsoleEventName, true>) as ConsoleEventName[];

export type LiveState = 'connecting' | 'live' | 'down';

export interface EventBus {
  on<K extends ConsoleEventName>(name: K, listener: Listener<K>): () => void;
  emit<K extends ConsoleEventName>(name: K, data: ConsoleEvents[K]): void;
}

export function createEventBus(): EventBus {
  const listeners = new Map<ConsoleEventName, Set<(data: never) => void>>();
  return {
    on(name, listener) {
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(listener as (data: never) => void);
      return () => set.delete(listener as (data: never) => void);
    },
    emit(name, data) {
      for (const l of [...(listeners.get(name) ?? [])]) (l as Listener<typeof name>)(data);
    },
  };
}

export interface LiveStream {
  close(): void;
}

/** A heartbeat missed for this many periods: the stream is taken for dead and reopened. */
const MISSED_HEARTBEATS = 3;
/** Wait before reopening a stream the browser gave up on (EventSource retries by itself otherwise). */
const REOPEN_DELAY_MS = 3_000;

/**
 * Opens the stream and keeps it open: EventSource reconnects by itself after a network error, but not
 * after an HTTP error (401 after a session ended, 503), nor when the stream goes quiet: both are handled
 * here. `stillLoggedIn` is asked before reopening after an HTTP error (it sends the page to the login
 * screen when the session is gone).
 */
export function openLiveStream(bus: EventBus, onState: (s: LiveState) => void, stillLoggedIn: () => Promise<boolean>): LiveStream {
  let source: EventSource | undefined;
  let closed = false;
  let hellos = 0;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  let reopen: ReturnType<typeof setTimeout> | undefined;
  let heartbeatMs = 15_000;

  const armWatchdog = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      onState('down');
      restart();
    }, heartbeatMs * MISSED_HEARTBEATS);
  };

  const restart = () => {
    source?.close();
    source = undefined;
    clearTimeout(reopen);
    reopen = setTimeout(() => {
      void stillLoggedIn().then((yes) => {
        if (yes && !closed) open();
      });
    }, REOPEN_DELAY_MS);
  };

  const open = () => {
    if (closed) return;
    onState('connecting');
    const es = new EventSource(apiUrl(CONSOLE_PATHS.events));
    source = es;
    for (const name of EVENT_NAMES) {
      es.addEventListener(name, (e: MessageEvent<string>) => {
        let data: unknown;
        try {
          data = JSON.parse(e.data);
        } catch {
          return; // A garbled message is dropped; the next resync or change repairs the view.
        }
        armWatchdog();
        if (name === 'hello') {
          heartbeatMs = (data as ConsoleEvents['hello']).heartbeatMs || heartbeatMs;
          onState('live');
          // The first hello follows the first fetches; a later one follows a gap in which changes were lost.
          if (hellos++ > 0) {
            bus.emit('resync', { what: 'nodes', changes: 0 });
            bus.emit('resync', { what: 'pods', changes: 0 });
          }
        }
        bus.emit(name, data as never);
        if (name === 'bye') {
          closed = true;
          es.close();
          clearTimeout(watchdog);
        }
      });
    }
    es.onerror = () => {
      onState(es.readyState === EventSource.CLOSED ? 'down' : 'connecting');
      if (es.readyState === EventSource.CLOSED) restart();
    };
    armWatchdog();
  };

  open();
  return {
    close() {
      closed = true;
      clearTimeout(watchdog);
      clearTimeout(reopen);
      source?.close();
    },
  };
}
