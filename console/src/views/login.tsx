/**
 * The login screen: the console admin token (or the read-only viewer token) is sent once, in a POST
 * body, and answered with an HttpOnly session cookie; it is never put in the URL or kept by the page.
 * A wrong token shows the server's words and nothing else.
 */
import { useState } from 'preact/hooks';
import { CONSOLE_PATHS, type LoginRequest, type SessionAnswer } from '../../../src/console/types.js';
import { ApiError, request } from '../api.js';

export function Login({ onLoggedIn, notice }: { onLoggedIn: (s: SessionAnswer) => void; notice?: string | undefined }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body: LoginRequest = { token: token.trim() };
      const session = await request<SessionAnswer>(CONSOLE_PATHS.login, { method: 'POST', body });
      setToken('');
      onLoggedIn(session);
    } catch (err) {
      setError(loginError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login" id="main">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Tether console</h1>
        <p class="muted">Log in with the console admin token, or with the read-only viewer token.</p>
        {notice && !error ? <p class="notice">{notice}</p> : null}
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          autoFocus
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'login-error' : undefined}
        />
        {error ? (
          <p id="login-error" class="error-note" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <p class="muted small">
          The token is <code>cluster_agent.auth_token</code> (Secret of the cluster agent) or <code>cluster_agent.console.viewer_token</code>.
        </p>
      </form>
    </main>
  );
}

function loginError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403) return `Login refused: ${err.message}. Check the token and try again.`;
    if (err.status === 401) return `Login refused: ${err.message}.`;
    if (err.status === 429) return `Too many attempts: ${err.message}`;
    return err.status ? `Login failed: ${err.message} (${err.status})` : err.message;
  }
  return String(err);
}
