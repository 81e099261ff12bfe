/**
 * Node agents: per node, the last kubelet and cluster-agent results its node agent reported, with the
 * problem code (401/403/TLS) and the fix as `tether diagnose` words it. Paged like the nodes list.
 */
import { useEffect, useState } from 'preact/hooks';
import { CONSOLE_PAGE_DEFAULT, CONSOLE_PATHS, type NodeRow, type NodesPage, type UpstreamInfo } from '../../../src/console/types.js';
import { withQuery } from '../api.js';
import { Badge, ErrorNote, Fix, Loading, Pager } from '../components.js';
import { ago, stateLabel } from '../format.js';
import { useDebounced, useEvent, useResource } from '../hooks.js';
import { applyNodesEvent } from '../live.js';

/** The `agent` filter of `GET nodes`. */
const AGENT_FILTERS = [
  ['', 'All nodes'],
  ['failing', 'Failing'],
  ['present', 'With a node agent'],
  ['missing', 'Without a node agent'],
] as const;

export function NodeAgents() {
  const [nodeQ, setNodeQ] = useState('');
  const [agent, setAgent] = useState('');
  const [offset, setOffset] = useState(0);
  const q = useDebounced(nodeQ.trim(), 250);
  useEffect(() => setOffset(0), [q, agent]);
  const nodes = useResource<NodesPage>(withQuery(CONSOLE_PATHS.nodes, { q, agent, offset, limit: CONSOLE_PAGE_DEFAULT }));
  // A live row may stop matching the agent filter: with a filter, refetch instead of patching.
  useEvent('nodes', (ev) => (agent ? nodes.reload() : nodes.update((p) => applyNodesEvent(p, ev, q))));
  useEvent('resync', (r) => r.what === 'nodes' && nodes.reload());
  const page = nodes.data;
  return (
    <section aria-labelledby="agents-title">
      <h2 id="agents-title">Node agents</h2>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="a-node">Node</label>
          <input id="a-node" type="search" value={nodeQ} autocomplete="off" placeholder="name contains…" onInput={(e) => setNodeQ((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="a-state">Show</label>
          <select id="a-state" value={agent} onChange={(e) => setAgent((e.target as HTMLSelectElement).value)}>
            {AGENT_FILTERS.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
      </form>
      <ErrorNote error={nodes.error} />
      {!page ? (
        nodes.error ? null : <Loading what="node agents" />
      ) : page.rows.length === 0 ? (
        <p class="muted">No node matches.</p>
      ) : (
        <ul class="agent-list">
          {page.rows.map((n) => (
            <AgentCard key={n.name} node={n} />
          ))}
        </ul>
      )}
      {page ? <Pager total={page.total} offset={page.offset} limit={page.limit} onOffset={setOffset} label="nodes" /> : null}
    </section>
  );
}

function AgentCard({ node }: { node: NodeRow }) {
  const a = node.agent;
  return (
    <li class="card agent" data-agent-node={node.name}>
      <h3>
        {node.name} {a ? null : <Badge state="unknown">no node agent</Badge>}
      </h3>
      {a ? (
        <>
          <p class="muted small">Last report {ago(a.lastSeen)}</p>
          <div class="upstreams">
            <Upstream title="Kubelet" info={a.kubelet} />
            <Upstream title="Cluster agent" info={a.clusterAgent} />
          </div>
        </>
      ) : (
        <p class="muted">No node agent has reported from this node.</p>
      )}
    </li>
  );
}

function Upstream({ title, info }: { title: string; info: UpstreamInfo }) {
  return (
    <div class="upstream">
      <h4>
        {title} <Badge state={info.state === 'failing' ? 'error' : info.state}>{stateLabel(info.state)}</Badge>
      </h4>
      {info.state === 'failing' || info.code ? (
        <p>
          {info.status ? <code>{info.status}</code> : null} {info.code ? <code>{info.code}</code> : null} {info.summary}
        </p>
      ) : null}
      <Fix text={info.fix} />
    </div>
  );
}
