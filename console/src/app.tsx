/**
 * The page: the login screen until the server says there is a session, then the console's views
 * (one per `#hash`, so the browser's back button and bookmarks work) over one live event stream.
 */
import type { FunctionComponent } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { CONSOLE_PATHS, type SessionAnswer } from '../../src/console/types.js';
import { ApiError, describeError, onSessionLost, request } from './api.js';
import { createEventBus, openLiveStream, type LiveState } from './events.js';
import { Console } from './hooks.js';
import { NodeAgents } from './views/agents.js';
import { Diagnose } from './views/diagnose.js';
import { Login } from './views/login.js';
import { Nodes } from './views/nodes.js';
import { Overview } from './views/overview.js';
import { Webhook } from './views/webhook.js';

const VIEWS: ReadonlyArray<readonly [string, string, FunctionComponent]> = [
  ['overview', 'Overview', Overview],
  ['nodes', 'Nodes', Nodes],
  ['agents', 'Node agents', NodeAgents],
  ['webhook', 'Webhook', Webhook],
  ['diagnose', 'Diagnose', Diagnose],
];

type Phase = { readonly kind: 'checking' } | { readonly kind: 'login'; readonly notice?: string } | { readonly kind: 'in'; readonly session: SessionAnswer };

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });
  useEffect(() => {
    onSessionLost(() => setPhase({ kind: 'login', notice: 'The session ended: log in again.' }));
    request<SessionAnswer>(CONSOLE_PATHS.session).then(
      (session) => setPhase({ kind: 'in', session }),
      (e: unknown) => setPhase(e instanceof ApiError && e.status === 401 ? { kind: 'login' } : { kind: 'login', notice: describeError(e) }),
    );
  }, []);
  if (phase.kind === 'checking') return <p class="muted boot">Loading…</p>;
  if (phase.kind === 'login') return <Login notice={phase.notice} onLoggedIn={(session) => setPhase({ kind: 'in', session })} />;
  return <LoggedIn session={phase.session} onLoggedOut={(notice) => setPhase(notice ? { kind: 'login', notice } : { kind: 'login' })} />;
}

function useHashRoute(): string {
  const read = () => location.hash.replace(/^#\/?/, '') || 'overview';
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function LoggedIn({ session, onLoggedOut }: { session: SessionAnswer; onLoggedOut: (notice?: string) => void }) {
  const route = useHashRoute();
  const bus = useMemo(createEventBus, []);
  const [live, setLive] = useState<LiveState>('connecting');
  useEffect(() => {
    const stillLoggedIn = () =>
      request(CONSOLE_PATHS.session).then(
        () => true,
        () => false, // a 401 has already sent the page to the login screen
      );
    const stream = openLiveStream(bus, setLive, stillLoggedIn);
    const offBye = bus.on('bye', (b) => {
      if (b.reason !== 'shutdown') onLoggedOut(b.reason === 'expired' ? 'The session expired: log in again.' : undefined);
      else setLive('down');
    });
    return () => {
      offBye();
      stream.close();
    };
  }, [bus]);

  const logout = async () => {
    await request(CONSOLE_PATHS.logout, { method: 'POST', body: {} }).catch(() => undefined);
    onLoggedOut();
  };

  const view = VIEWS.find(([id]) => id === route) ?? VIEWS[0]!;
  const View = view[2];
  return (
    <Console.Provider value={{ bus, session }}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <strong>Tether</strong> <span class="muted">{session.namespace}</span>
        </div>
        <nav aria-label="Console sections">
          {VIEWS.map(([id, label]) => (
            <a key={id} href={`#${id}`} aria-current={id === view[0] ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="session">
          <span class={`live live-${live}`} role="status" title="Updates from the cluster agent's watches">
            {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Offline'}
          </span>
          <span class="muted small">{session.role}</span>
          <button type="button" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <View key={view[0]} />
      </main>
      <footer class="muted small">
        Tether {session.version} · {session.served === 'local' ? 'local console' : 'cluster agent'}
      </footer>
    </Console.Provider>
  );
}
