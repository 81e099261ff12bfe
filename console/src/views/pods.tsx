/**
 * Pod lists: one node's pods (exactly those whose `spec.nodeName` is that node: the server filters,
 * the page never groups a cluster-wide list itself) and the cluster-wide search, both paged and live.
 */
import { useEffect, useState } from 'preact/hooks';
import { CONSOLE_PAGE_DEFAULT, CONSOLE_PATHS, type PodDetail, type PodRow, type PodsPage } from '../../../src/console/types.js';
import { withQuery } from '../api.js';
import { Badge, ErrorNote, Fix, Loading, Pager } from '../components.js';
import { ago, reasonIsProblem, reasonText } from '../format.js';
import { useEvent, useResource } from '../hooks.js';
import { applyPodsEvent, podKey, type PodFilter } from '../live.js';

const POD_PAGE = CONSOLE_PAGE_DEFAULT;

/** The pods of `node`, filtered by namespace and name. */
export function NodePods({ node, namespace, q }: { node: string; namespace: string; q: string }) {
  return <PodList filter={{ node, namespace, q }} path={CONSOLE_PATHS.nodePods(node)} label={`Pods on ${node}`} showNode={false} />;
}

/** Pods across the cluster matching a namespace and a name, with the node each runs on. */
export function PodSearch({ namespace, q }: { namespace: string; q: string }) {
  return <PodList filter={{ namespace, q }} path={CONSOLE_PATHS.pods} label="Matching pods" showNode />;
}

function PodList({ filter, path, label, showNode }: { filter: PodFilter; path: string; label: string; showNode: boolean }) {
  const [offset, setOffset] = useState(0);
  useEffect(() => setOffset(0), [filter.namespace, filter.q, filter.node]);
  const pods = useResource<PodsPage>(withQuery(path, { namespace: filter.namespace, q: filter.q, offset, limit: POD_PAGE }));
  useEvent('pods', (ev) => pods.update((p) => applyPodsEvent(p, ev, filter)));
  useEvent('resync', (r) => r.what === 'pods' && pods.reload());

  const page = pods.data;
  if (!page) return pods.error ? <ErrorNote error={pods.error} /> : <Loading what={label.toLowerCase()} />;
  return (
    <div class="pods">
      <ErrorNote error={pods.error} />
      {page.rows.length === 0 ? (
        <p class="muted">{filter.namespace || filter.q ? 'No pod matches the search.' : 'No pods.'}</p>
      ) : (
        <div class="table-wrap">
          <table class="stack" aria-label={label} data-node={filter.node}>
            <thead>
              <tr>
                <th scope="col">Pod</th>
                {showNode ? <th scope="col">Node</th> : null}
                <th scope="col">Phase</th>
                <th scope="col">Injection</th>
                <th scope="col">Mode</th>
                <th scope="col">Libraries</th>
              </tr>
            </thead>
            <tbody>
              {page.rows.map((p) => (
                <PodLine key={podKey(p)} pod={p} showNode={showNode} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager total={page.total} offset={page.offset} limit={page.limit} onOffset={setOffset} label="pods" />
    </div>
  );
}

function PodLine({ pod, showNode }: { pod: PodRow; showNode: boolean }) {
  const [open, setOpen] = useState(false);
  const id = `pod-${pod.uid}`;
  return (
    <>
      <tr data-pod={podKey(pod)} data-injected={String(pod.injected)} data-reason={pod.reason}>
        <td>
          <button type="button" class="link" aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)}>
            <span class="ns">{pod.namespace}/</span>
            {pod.name}
          </button>
        </td>
        {showNode ? <td data-label="Node">{pod.node || <span class="muted">unscheduled</span>}</td> : null}
        <td data-label="Phase">{pod.phase || <span class="muted">—</span>}</td>
        <td data-label="Injection">
          {pod.injected ? (
            <Badge state="ok">injected</Badge>
          ) : (
            <Badge state={reasonIsProblem(pod.reason) ? 'warning' : 'neutral'}>not injected: {reasonText(pod.reason)}</Badge>
          )}
        </td>
        <td data-label="Mode">{pod.mode ?? '—'}</td>
        <td data-label="Libraries">{pod.libraries?.length ? pod.libraries.join(', ') : '—'}</td>
      </tr>
      {open ? (
        <tr class="detail-row" id={id}>
          <td colSpan={showNode ? 6 : 5}>
            <PodDetailView namespace={pod.namespace} name={pod.name} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function PodDetailView({ namespace, name }: { namespace: string; name: string }) {
  const detail = useResource<PodDetail>(CONSOLE_PATHS.pod(namespace, name));
  const d = detail.data;
  if (!d) return detail.error ? <ErrorNote error={detail.error} /> : <Loading what="the pod" />;
  const tags = Object.entries(d.injection.tags);
  return (
    <div class="pod-detail">
      <p>{d.explanation}</p>
      <Fix text={d.fix} />
      <dl class="facts">
        <dt>Config mode</dt>
        <dd>{d.injection.config ? (d.injection.mode ?? 'unknown') : 'not injected'}</dd>
        <dt>Tags</dt>
        <dd>{tags.length ? tags.map(([k, v]) => `DD_${k.toUpperCase()}=${v}`).join(', ') : 'none'}</dd>
        <dt>Libraries</dt>
        <dd>{d.injection.libraries.length ? d.injection.libraries.join(', ') : 'none'}</dd>
        <dt>Opt-in label</dt>
        <dd>{d.enabledLabel === undefined ? 'absent' : `"${d.enabledLabel}"`}</dd>
        {d.workload ? (
          <>
            <dt>Workload</dt>
            <dd>
              {d.workload.kind}/{d.workload.name}
            </dd>
          </>
        ) : null}
        <dt>Created</dt>
        <dd>{ago(d.createdAt)}</dd>
        {d.tags.length ? (
          <>
            <dt>Cluster agent tags</dt>
            <dd class="tags">{d.tags.join(' ')}</dd>
          </>
        ) : null}
      </dl>
    </div>
  );
}
