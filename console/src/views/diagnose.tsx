/**
 * The latest `tether diagnose` results, problems first, each with its evidence and fix, and a button
 * to run it again (admin sessions; the server rate-limits runs). Live from `diagnose` events.
 */
import { useEffect, useState } from 'preact/hooks';
import { CONSOLE_PATHS, type DiagnoseAnswer, type DiagnoseCheckResult } from '../../../src/console/types.js';
import { ApiError, describeError, request } from '../api.js';
import { Badge, ErrorNote, Fix, Loading } from '../components.js';
import { ago, time } from '../format.js';
import { useConsole, useEvent, useResource } from '../hooks.js';

const ORDER: Record<string, number> = { error: 0, warning: 1, ok: 2, skipped: 3 };

export function Diagnose() {
  const { session } = useConsole();
  const answer = useResource<DiagnoseAnswer>(CONSOLE_PATHS.diagnose);
  useEvent('diagnose', (d) => answer.replace(d));
  const [runError, setRunError] = useState<string | undefined>(undefined);
  const [starting, setStarting] = useState(false);

  const run = async () => {
    setRunError(undefined);
    setStarting(true);
    try {
      answer.replace(await request<DiagnoseAnswer>(CONSOLE_PATHS.diagnose, { method: 'POST', body: {} }));
    } catch (e) {
      setRunError(e instanceof ApiError && e.status === 409 ? 'A run is already in progress.' : e instanceof ApiError && e.status === 429 ? undefined : describeError(e));
      answer.reload();
    } finally {
      setStarting(false);
    }
  };

  // The server rate-limits runs: the button waits until the next run may start, then wakes up by itself.
  const [, setTick] = useState(0);
  const nextAt = answer.data?.nextRunAllowedAt ? Date.parse(answer.data.nextRunAllowedAt) : NaN;
  useEffect(() => {
    const wait = nextAt - Date.now();
    if (!(wait > 0)) return;
    const t = setTimeout(() => setTick((n) => n + 1), wait + 50);
    return () => clearTimeout(t);
  }, [nextAt]);

  const d = answer.data;
  if (!d) return answer.error ? <ErrorNote error={answer.error} /> : <Loading what="diagnose results" />;
  const latest = d.latest;
  const results = latest ? [...latest.results].sort((a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9)) : [];
  const waitUntil = d.nextRunAllowedAt && Date.parse(d.nextRunAllowedAt) > Date.now() ? d.nextRunAllowedAt : undefined;
  return (
    <section aria-labelledby="diagnose-title">
      <h2 id="diagnose-title">Diagnose</h2>
      <div class="toolbar">
        <button type="button" class="primary" onClick={run} disabled={!session.canRunDiagnose || d.running || starting || waitUntil !== undefined} aria-describedby="diagnose-state">
          {d.running || starting ? 'Running…' : 'Run diagnose again'}
        </button>
        <span id="diagnose-state" class="muted" aria-live="polite">
          {!session.canRunDiagnose
            ? 'A viewer session can read the results but not run diagnose.'
            : d.running
              ? `Running since ${time(d.startedAt)}.`
              : waitUntil
                ? `The next run may start at ${time(waitUntil)}.`
                : latest
                  ? `Last run finished ${ago(latest.finishedAt)}, as ${latest.ranAs}.`
                  : ''}
        </span>
      </div>
      <ErrorNote error={runError ?? answer.error} />
      {!latest ? (
        <p class="muted">{d.running ? 'The first run is in progress.' : 'Diagnose has not run yet.'}</p>
      ) : latest.error ? (
        <p class="error-note">The run could not start: {latest.error}</p>
      ) : (
        <>
          <p>
            <Badge state="error">{latest.summary.error} errors</Badge> <Badge state="warning">{latest.summary.warning} warnings</Badge> <Badge state="ok">{latest.summary.ok} ok</Badge>{' '}
            <Badge state="neutral">{latest.summary.skipped} skipped</Badge>
          </p>
          <ol class="checks" aria-label="Diagnose results">
            {results.map((r) => (
              <Check key={r.name} result={r} />
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

function Check({ result }: { result: DiagnoseCheckResult }) {
  const problem = result.status === 'error' || result.status === 'warning';
  return (
    <li class={`card check check-${result.status}`} data-check={result.name} data-status={result.status}>
      <h3>
        <Badge state={result.status === 'skipped' ? 'neutral' : result.status}>{result.status}</Badge> <span>{result.name}</span>
      </h3>
      <p>{result.summary}</p>
      {result.evidence.length ? (
        <details open={problem}>
          <summary>Evidence ({result.evidence.length})</summary>
          <ul class="evidence">
            {result.evidence.map((e, i) => (
              <li key={i}>
                <code>{e}</code>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      {problem ? <Fix text={result.fix} /> : null}
    </li>
  );
}
