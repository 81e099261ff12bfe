/**
 * Nodes, each expanding to exactly its own pods; search by node name, and by namespace and pod name
 * (then the matching pods are listed across the cluster too, with their node). Lists are paged on the
 * server (a 5,000-node cluster sends one page of nodes, not all of them) and kept live.
 */
import { useEffect, useState } from 'preact/hooks';
import { CONSOLE_PAGE_DEFAULT, CONSOLE_PATHS, type NodeRow, type NodesPage } from '../../../src/console/types.js';
import { withQuery } from '../api.js';
import { Badge, ErrorNote, Loading, Pager } from '../components.js';
import { count } from '../format.js';
import { useDebounced, useEvent, useResource } from '../hooks.js';
import { applyNodesEvent } from '../live.js';
import { NodePods, PodSearch } from './pods.js';

const NODE_PAGE = CONSOLE_PAGE_DEFAULT;
const SEARCH_PAUSE_MS = 250;

export function Nodes() {
  const [nodeQ, setNodeQ] = useState('');
  const [namespace, setNamespace] = useState('');
  const [podQ, setPodQ] = useState('');
  const [offset, setOffset] = useState(0);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const q = useDebounced(nodeQ.trim(), SEARCH_PAUSE_MS);
  const ns = useDebounced(namespace.trim(), SEARCH_PAUSE_MS);
  const pq = useDebounced(podQ.trim(), SEARCH_PAUSE_MS);
  useEffect(() => setOffset(0), [q]);

  const nodes = useResource<NodesPage>(withQuery(CONSOLE_PATHS.nodes, { q, offset, limit: NODE_PAGE }));
  useEvent('nodes', (ev) => nodes.update((p) => applyNodesEvent(p, ev, q)));
  useEvent('resync', (r) => r.what === 'nodes' && nodes.reload());

  const toggle = (name: string) =>
    setExpanded((s) => {
      const next = new Set(s);
      if (!next.delete(name)) next.add(name);
      return next;
    });

  const page = nodes.data;
  return (
    <section aria-labelledby="nodes-title">
      <h2 id="nodes-title">Nodes and their pods</h2>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field id="f-node" label="Node" value={nodeQ} onInput={setNodeQ} placeholder="name contains…" />
        <Field id="f-ns" label="Namespace" value={namespace} onInput={setNamespace} placeholder="exact namespace" />
        <Field id="f-pod" label="Pod" value={podQ} onInput={setPodQ} placeholder="name contains…" />
      </form>
      {ns || pq ? (
        <section class="card" aria-labelledby="search-title">
          <h3 id="search-title">Pods matching {[ns && `namespace ${ns}`, pq && `“${pq}”`].filter(Boolean).join(' and ')}</h3>
          <PodSearch namespace={ns} q={pq} />
        </section>
      ) : null}
      <ErrorNote error={nodes.error} />
      {!page ? (
        nodes.error ? null : <Loading what="nodes" />
      ) : page.rows.length === 0 ? (
        <p class="muted">{q ? `No node name contains “${q}”.` : 'No nodes.'}</p>
      ) : (
        <div class="table-wrap">
          <table class="nodes" aria-label="Nodes">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col" class="num">
                  Pods
                </th>
                <th scope="col" class="num">
                  Injected
                </th>
                <th scope="col" class="num wide-only">
                  Missed
                </th>
                <th scope="col">Node agent</th>
              </tr>
            </thead>
            {page.rows.map((n) => (
              <NodeLines key={n.name} node={n} open={expanded.has(n.name)} onToggle={() => toggle(n.name)} namespace={ns} q={pq} />
            ))}
          </table>
        </div>
      )}
      {page ? <Pager total={page.total} offset={page.offset} limit={page.limit} onOffset={setOffset} label="nodes" /> : null}
    </section>
  );
}

function NodeLines({ node, open, onToggle, namespace, q }: { node: NodeRow; open: boolean; onToggle: () => void; namespace: string; q: string }) {
  const id = `node-pods-${node.name}`;
  return (
    <tbody data-node={node.name} class={open ? 'open' : undefined}>
      <tr>
        <th scope="row">
          <button type="button" class="expander" aria-expanded={open} aria-controls={id} onClick={onToggle}>
            <span aria-hidden="true" class="chevron">
              {open ? '▾' : '▸'}
            </span>{' '}
            {node.name}
          </button>
          {node.known ? null : <span class="muted small"> (no Node object)</span>}
        </th>
        <td class="num">{count(node.pods)}</td>
        <td class="num">{count(node.injected)}</td>
        <td class="num wide-only">{node.missed > 0 ? <Badge state="warning">{count(node.missed)}</Badge> : '0'}</td>
        <td>
          <AgentState node={node} />
        </td>
      </tr>
      {open ? (
        <tr class="detail-row" id={id}>
          <td colSpan={5}>
            <NodePods node={node.name} namespace={namespace} q={q} />
          </td>
        </tr>
      ) : null}
    </tbody>
  );
}

export function AgentState({ node }: { node: NodeRow }) {
  const a = node.agent;
  if (!a) return <span class="muted">none</span>;
  const failing = a.kubelet.state === 'failing' || a.clusterAgent.state === 'failing';
  const unknown = a.kubelet.state === 'unknown' || a.clusterAgent.state === 'unknown';
  return <Badge state={failing ? 'error' : unknown ? 'unknown' : 'ok'}>{failing ? 'failing' : unknown ? 'unknown' : 'ok'}</Badge>;
}

function Field({ id, label, value, onInput, placeholder }: { id: string; label: string; value: string; onInput: (v: string) => void; placeholder: string }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} type="search" value={value} placeholder={placeholder} autocomplete="off" spellcheck={false} onInput={(e) => onInput((e.target as HTMLInputElement).value)} />
    </div>
  );
}
