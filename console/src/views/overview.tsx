/** The cluster at a glance: counts, webhook, node agents, leader and the latest diagnose, kept live. */
import { CONSOLE_PATHS, type OverviewAnswer } from '../../../src/console/types.js';
import { Badge, ErrorNote, Loading } from '../components.js';
import { ago, count } from '../format.js';
import { useEvent, useResource } from '../hooks.js';
import { useEffect, useRef } from 'preact/hooks';

const SUMMARY_REFRESH_MS = 5_000;

export function Overview() {
  const overview = useResource<OverviewAnswer>(CONSOLE_PATHS.overview);
  useEvent('counts', (counts) => overview.update((o) => ({ ...o, counts })));
  useEvent('webhook', (w) => overview.update((o) => ({ ...o, webhook: { state: w.state, problems: w.problems }, ...(w.leader ? { leader: w.leader } : {}) })));
  useEvent('diagnose', (d) => overview.update((o) => (d.latest ? { ...o, diagnose: d.latest.summary } : o)));
  // Node agents' reports arrive as node rows: the summary is refetched, at most every few seconds.
  const later = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(later.current), []);
  useEvent('nodes', () => {
    later.current ??= setTimeout(() => {
      later.current = undefined;
      overview.reload();
    }, SUMMARY_REFRESH_MS);
  });
  useEvent('resync', () => overview.reload());

  const o = overview.data;
  if (!o) return overview.error ? <ErrorNote error={overview.error} /> : <Loading what="the overview" />;
  const c = o.counts;
  return (
    <section aria-labelledby="overview-title">
      <h2 id="overview-title">Overview</h2>
      <ErrorNote error={overview.error} />
      {!o.synced ? (
        <div class="card warn" role="status">
          <strong>Not synced yet:</strong> the numbers may be incomplete.
          <ul>
            {o.syncProblems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <div class="stats">
        <Stat label="Nodes" value={c.nodes} href="#nodes" />
        <Stat label="Pods" value={c.pods} href="#nodes" />
        <Stat label="Injected" value={c.injectedPods} />
        <Stat label="Opted in, not injected" value={c.missedPods} alert={c.missedPods > 0} />
        <Stat label="Unscheduled" value={c.unscheduledPods} />
        <Stat label="Namespaces" value={c.namespaces} />
      </div>
      <div class="grid">
        <article class="card" aria-labelledby="ov-webhook">
          <h3 id="ov-webhook">
            <a href="#webhook">Webhook</a> <Badge state={o.webhook.state} />
          </h3>
          {o.webhook.problems.length ? (
            <ul class={`problems problems-${o.webhook.state}`}>
              {o.webhook.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          ) : (
            <p>Configuration present, CA bundles match the Secret, certificate valid.</p>
          )}
          <p class="muted">
            Leader: {o.leader?.holderIdentity ?? 'unknown'}
            {o.leader ? ` (${o.leader.state}${o.leader.self ? ', this replica' : ''})` : ''}
          </p>
        </article>
        <article class="card" aria-labelledby="ov-agents">
          <h3 id="ov-agents">
            <a href="#agents">Node agents</a> <Badge state={o.nodeAgents.failing > 0 ? 'error' : o.nodeAgents.missing > 0 ? 'warning' : 'ok'} />
          </h3>
          <p>
            {count(o.nodeAgents.reporting)} reporting, {count(o.nodeAgents.failing)} failing, {count(o.nodeAgents.missing)} nodes without one
          </p>
        </article>
        <article class="card" aria-labelledby="ov-diagnose">
          <h3 id="ov-diagnose">
            <a href="#diagnose">Diagnose</a> {o.diagnose ? <Badge state={o.diagnose.error > 0 ? 'error' : o.diagnose.warning > 0 ? 'warning' : 'ok'} /> : null}
          </h3>
          {o.diagnose ? (
            <p>
              {o.diagnose.error} errors, {o.diagnose.warning} warnings, {o.diagnose.ok} ok, {o.diagnose.skipped} skipped · {ago(o.diagnose.finishedAt)}
            </p>
          ) : (
            <p>Not run yet.</p>
          )}
        </article>
      </div>
      <p class="muted small">
        {o.clusterId ? `Cluster ${o.clusterId} · ` : ''}as of {ago(o.at)}
      </p>
    </section>
  );
}

function Stat({ label, value, href, alert }: { label: string; value: number; href?: string; alert?: boolean }) {
  const body = (
    <>
      <span class="stat-value">{count(value)}</span>
      <span class="stat-label">{label}</span>
    </>
  );
  return <div class={`stat${alert ? ' stat-alert' : ''}`}>{href ? <a href={href}>{body}</a> : body}</div>;
}
