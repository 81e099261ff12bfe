/**
 * ARCHITECTURE.md's arrows, checked on the import graph of src/: folders never import each other in a
 * cycle; concern folders are wired together only by the composition roots (src/app/), a shared fact
 * living below them (config/, kube/, tagging/, http/, agentapi/, clusterview/, certs/...); the dev and
 * test cluster (src/devcluster/) is tooling, which only `tether dev` reaches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { folderCycles, folderEdges, folderOf, readImportGraph } from '../helpers/importGraph.js';

/** dist/test/unit/architecture.test.js → the sources, src/. */
const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

/** The folders that each do one part of the product; they do not import each other to be wired. */
const CONCERNS = ['clusteragent', 'console', 'controllers', 'diagnose', 'nodeagent', 'server', 'status'];

/**
 * Imports between concern folders that are a dependency on another concern's results, not wiring.
 * Keep it small: every entry says why the shared part cannot simply move down.
 */
const ALLOWED: Readonly<Record<string, string>> = {
  // ARCHITECTURE.md: the console shows diagnose's results and runs its checks in-process; it never
  // re-derives them. The checks themselves are diagnose's (one interface, one module per check).
  'console → diagnose': 'the console runs diagnose checks and shows their results',
  // Same rule for `tether status`: the console's webhook health is status's reading of the same objects.
  'console → status': "the console's webhook health is tether status's own reading",
  // diagnose says what the controllers would write (the certificate plan, the desired webhook
  // configuration) by calling their pure planners, so a check can never disagree with the controller.
  'diagnose → controllers': "diagnose compares the cluster with the controllers' pure desired state",
};

const graph = readImportGraph(SRC);
const describeEdges = (key: string, edges: readonly { from: string; to: string }[]): string => `${key}: ${edges.map((e) => `${e.from} → ${e.to}`).join(', ')}`;

test('the import graph is read (a broken reader would make every rule pass)', () => {
  assert.ok(graph.length > 300, `only ${graph.length} imports found in ${SRC}`);
  assert.ok(graph.some((e) => e.from === 'cli/main.ts' && e.to === 'cli/start.ts'));
  assert.ok(graph.some((e) => e.from === 'cli/start.ts' && e.to === 'app/start.ts'), 'dynamic import() is read');
});

test('no two folders of src/ import each other, directly or through others', () => {
  const cycles = folderCycles(graph);
  const edges = folderEdges(graph);
  const inCycle = cycles.map((c) => {
    const members = new Set(c);
    const behind = [...edges].filter(([key]) => {
      const [a, b] = key.split(' → ');
      return members.has(a!) && members.has(b!);
    });
    return `${c.join(', ')}:\n    ${behind.map(([k, e]) => describeEdges(k, e)).join('\n    ')}`;
  });
  assert.deepEqual(inCycle, [], `folder cycles:\n  ${inCycle.join('\n  ')}`);
});

test('concern folders import each other only where the allow-list says why', () => {
  const sideways = [...folderEdges(graph)].filter(([key]) => {
    const [a, b] = key.split(' → ');
    return CONCERNS.includes(a!) && CONCERNS.includes(b!) && !(key in ALLOWED);
  });
  assert.deepEqual(
    sideways.map(([k, e]) => describeEdges(k, e)),
    [],
    'wire concerns together in src/app/, or move the shared fact down (config/, kube/, tagging/, a small shared module)',
  );
});

test('every allow-list entry is still needed', () => {
  const edges = folderEdges(graph);
  assert.deepEqual(Object.keys(ALLOWED).filter((k) => !edges.has(k)), []);
});

// `tether image build` (cli/image.ts) is tooling too: it assembles images, it never runs in a pod.
test("the dev cluster's tooling (src/devcluster/) is reached only from tether dev and tether image", () => {
  const outside = graph.filter((e) => folderOf(e.to) === 'devcluster' && folderOf(e.from) !== 'devcluster' && !['app/dev.ts', 'app/devRealNode.ts', 'cli/dev.ts', 'cli/image.ts'].includes(e.from));
  assert.deepEqual(outside.map((e) => `${e.from} → ${e.to}`), []);
});

test('only the command line reaches the composition roots (src/app/)', () => {
  const outside = graph.filter((e) => folderOf(e.to) === 'app' && !['app', 'cli'].includes(folderOf(e.from)));
  assert.deepEqual(outside.map((e) => `${e.from} → ${e.to}`), []);
});
