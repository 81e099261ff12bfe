/** Fetching and live updates as Preact hooks. */
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleEventName, ConsoleEvents, SessionAnswer } from '../../src/console/types.js';
import { describeError, request } from './api.js';
import type { EventBus } from './events.js';

export interface ConsoleContext {
  readonly bus: EventBus;
  readonly session: SessionAnswer;
}

export const Console = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const c = useContext(Console);
  if (!c) throw new Error('useConsole outside the logged-in console');
  return c;
}

/** Calls `listener` for each `name` event while the component is mounted (the latest listener each time). */
export function useEvent<K extends ConsoleEventName>(name: K, listener: (data: ConsoleEvents[K]) => void): void {
  const { bus } = useConsole();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => bus.on(name, (d) => latest.current(d)), [bus, name]);
}

export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  readonly loading: boolean;
  /** Fetches again, keeping what is shown until the answer comes. */
  reload(): void;
  /** Changes what is shown (a live update) without fetching. */
  update(f: (data: T) => T): void;
  replace(data: T): void;
}

/** GETs `path` (again whenever it changes); the previous request is aborted when a newer one starts. */
export function useResource<T>(path: string): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    request<T>(path, { signal: abort.signal }).then(
      (data) => setState({ data, error: undefined, loading: false }),
      (e: unknown) => {
        if (!abort.signal.aborted) setState((s) => ({ data: s.data, error: describeError(e), loading: false }));
      },
    );
    return () => abort.abort();
  }, [path, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const update = useCallback((f: (data: T) => T) => setState((s) => (s.data === undefined ? s : { ...s, data: f(s.data) })), []);
  const replace = useCallback((data: T) => setState({ data, error: undefined, loading: false }), []);
  return { ...state, reload, update, replace };
}

/** `value`, once it has stopped changing for `ms` (search fields: one request per pause, not per key). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}
