/**
 * Webhook health: the configuration and its entries (each entry's CA bundle digest against the
 * Secret's), the certificate's time left, the leader, request rate and p99 from the webhook's own
 * metrics, and recent failures. Live from `webhook` events; the traffic figures are refetched while
 * the panel is shown, since they change with every request.
 */
import { useEffect } from 'preact/hooks';
import { CONSOLE_PATHS, type WebhookHealth } from '../../../src/console/types.js';
import { Badge, ErrorNote, Loading } from '../components.js';
import { ago, count, duration, time } from '../format.js';
import { useEvent, useResource } from '../hooks.js';

const TRAFFIC_REFRESH_MS = 10_000;

export function Webhook() {
  const health = useResource<WebhookHealth>(CONSOLE_PATHS.webhook);
  useEvent('webhook', (w) => health.replace(w));
  useEffect(() => {
    const t = setInterval(() => document.visibilityState === 'visible' && health.reload(), TRAFFIC_REFRESH_MS);
    return () => clearInterval(t);
  }, [health.reload]);
  const w = health.data;
  if (!w) return health.error ? <ErrorNote error={health.error} /> : <Loading what="webhook health" />;
  const c = w.configuration;
  const s = w.secret;
  return (
    <section aria-labelledby="webhook-title" class="webhook" data-state={w.state}>
      <h2 id="webhook-title">
        Webhook health <Badge state={w.state} />
      </h2>
      <ErrorNote error={health.error} />
      {w.problems.length ? (
        <div class={`card problems-card problems-${w.state}`} role="status" aria-label="Webhook problems">
          <ul class="problems">
            {w.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <div class="grid">
        <article class="card" aria-labelledby="wh-config">
          <h3 id="wh-config">
            Configuration <Badge state={c.present ? 'ok' : 'error'}>{c.present ? 'present' : 'missing'}</Badge>
          </h3>
          <p>
            <code>{c.name}</code>
            {c.createdAt ? <span class="muted"> · created {time(c.createdAt)}</span> : null}
          </p>
          {c.error ? <p class="error-note">{c.error}</p> : null}
        </article>
        <article class="card" aria-labelledby="wh-secret">
          <h3 id="wh-secret">
            Certificate <Badge state={!s.present ? 'error' : s.certificateExpiresInMs !== undefined && s.certificateExpiresInMs < 0 ? 'error' : 'ok'}>{s.present ? 'Secret present' : 'Secret missing'}</Badge>
          </h3>
          <p>
            <code>{s.name}</code>
          </p>
          <dl class="facts">
            <dt>CA bundle digest</dt>
            <dd>
              <code>{s.caBundleDigest ?? '—'}</code>
            </dd>
            <dt>Time left</dt>
            <dd>{s.certificateExpiresInMs !== undefined ? duration(s.certificateExpiresInMs) : '—'}</dd>
            <dt>Expires</dt>
            <dd>{time(s.certificateExpiresAt)}</dd>
          </dl>
          {s.error ? <p class="error-note">{s.error}</p> : null}
        </article>
        <article class="card" aria-labelledby="wh-leader">
          <h3 id="wh-leader">Leader</h3>
          {w.leader ? (
            <dl class="facts">
              <dt>Holder</dt>
              <dd>
                {w.leader.holderIdentity ?? 'none'}
                {w.leader.self ? ' (this replica)' : ''}
              </dd>
              <dt>State</dt>
              <dd>{w.leader.state}</dd>
              <dt>Renewed</dt>
              <dd>{ago(w.leader.renewTime)}</dd>
            </dl>
          ) : (
            <p class="muted">Unknown.</p>
          )}
          {w.leader?.error ? <p class="error-note">{w.leader.error}</p> : null}
        </article>
        <article class="card" aria-labelledby="wh-traffic">
          <h3 id="wh-traffic">Requests</h3>
          {w.traffic ? (
            <dl class="facts">
              <dt>Rate</dt>
              <dd>{w.traffic.ratePerSecond.toFixed(2)}/s over {duration(w.traffic.windowMs)}</dd>
              <dt>p99</dt>
              <dd>{w.traffic.p99Ms !== undefined ? `${w.traffic.p99Ms.toFixed(1)} ms` : 'no request'}</dd>
              <dt>Outcomes</dt>
              <dd>
                {Object.entries(w.traffic.outcomes)
                  .map(([k, v]) => `${k} ${count(v)}`)
                  .join(', ') || 'none'}
              </dd>
              <dt>Since start</dt>
              <dd>{count(w.traffic.totalRequests)}</dd>
            </dl>
          ) : (
            <p class="muted">Not served by this process (the local console has no webhook server).</p>
          )}
        </article>
      </div>
      <h3 class="section-title">Entries</h3>
      {c.entries.length === 0 ? (
        <p class="muted">No entries.</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="Webhook entries">
            <thead>
              <tr>
                <th scope="col">Entry</th>
                <th scope="col">CA bundle digest</th>
                <th scope="col">Matches the Secret</th>
                <th scope="col" class="wide-only">
                  Calls
                </th>
              </tr>
            </thead>
            <tbody>
              {c.entries.map((e) => (
                <tr key={e.name} data-entry={e.name} data-ca-match={String(e.caBundleMatches)}>
                  <td>
                    <code>{e.name}</code>
                    {e.runs === 'inject' ? <span class="muted"> (config, tags and libraries in one call)</span> : null}
                  </td>
                  <td>
                    <code>{e.caBundleDigest}</code>
                  </td>
                  <td>{e.caBundleMatches ? <Badge state="ok">matches</Badge> : <Badge state="error">does not match</Badge>}</td>
                  <td class="wide-only">
                    <code>{e.target}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3 class="section-title">Recent failures</h3>
      {w.recentFailures?.length ? (
        <div class="table-wrap">
          <table aria-label="Recent failures">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Webhook</th>
                <th scope="col">Outcome</th>
                <th scope="col" class="num">
                  Requests
                </th>
              </tr>
            </thead>
            <tbody>
              {w.recentFailures.map((f) => (
                <tr key={`${f.at}-${f.webhook}-${f.outcome}`}>
                  <td>{time(f.at)}</td>
                  <td>{f.webhook}</td>
                  <td>{f.outcome}</td>
                  <td class="num">{count(f.count)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="muted">{w.recentFailures ? 'None.' : 'Not recorded by this process.'}</p>
      )}
      <p class="muted small">As of {time(w.at)}</p>
    </section>
  );
}
