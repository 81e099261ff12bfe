import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseAllDocuments } from 'yaml';
import { injectDocuments, InjectInputError } from '../../../src/inject/documents.js';
import { runWebhookChain, type Pod } from '../../../src/admission/index.js';
import { ctx, testConfig } from '../fixtures.js';

const opts = (values = {}) => ({ config: testConfig(values), namespace: 'default', tetherNamespace: 'datadog' });
const docs = (out: string) => parseAllDocuments(out).map((d) => d.toJS());

const DEPLOYMENT = `# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # keep me
  labels:
    tags.datadoghq.com/env: prod
spec:
  template:
    metadata:
      labels:
        admission.datadoghq.com/enabled: "true"
    spec:
      containers:
        - name: app
          image: app:1
`;

describe('offline inject', () => {
  test('a Deployment template is mutated as its pods would be, with the Deployment as owner, comments kept', () => {
    const r = injectDocuments(DEPLOYMENT, opts());
    assert.match(r.output, /^# the web tier\n/);
    assert.match(r.output, /name: web # keep me/);
    const [d] = docs(r.output);
    const env = d.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    // The tags webhook runs after the config webhook and prepends too.
    assert.deepEqual(env, ['DD_ENV', 'DD_AGENT_HOST', 'DD_ENTITY_ID', 'DD_INTERNAL_POD_UID', 'DD_EXTERNAL_ENV']);
    // The same result as the chain on the template as a pod, with the Deployment's labels as the owner's.
    const template = parse(DEPLOYMENT).spec.template as Pod;
    const chain = runWebhookChain(template, ctx({}, { namespace: 'default', owner: { found: true, kind: 'Deployment', name: 'web', labels: { 'tags.datadoghq.com/env': 'prod' } } }));
    assert.deepEqual(d.spec.template, chain.pod);
  });

  test('every workload kind and a List; other documents pass through unchanged', () => {
    const tpl = { metadata: { labels: { 'admission.datadoghq.com/enabled': 'true' } }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    const input = [
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's' }, spec: { template: tpl } },
      { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'd' }, spec: { template: tpl } },
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'r' }, spec: { template: tpl } },
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: tpl } },
      { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj' }, spec: { jobTemplate: { spec: { template: tpl } } } },
      { apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: tpl.metadata.labels }, spec: tpl.spec }] },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { 'DD_AGENT_HOST': 'x' } },
    ];
    const out = docs(injectDocuments(input.map((d) => JSON.stringify(d)).join('\n---\n'), opts()).output);
    const firstEnv = (pod: { spec: { containers: { env?: { name: string }[] }[] } }) => pod.spec.containers[0]?.env?.[0]?.name;
    assert.equal(out.length, 7);
    for (const i of [0, 1, 2, 3]) assert.equal(firstEnv(out[i].spec.template), 'DD_AGENT_HOST', input[i]!.kind);
    assert.equal(firstEnv(out[4].spec.jobTemplate.spec.template), 'DD_AGENT_HOST');
    assert.equal(firstEnv(out[5].items[0]), 'DD_AGENT_HOST');
    assert.deepEqual(out[6], input[6]);
  });

  test('values YAML 1.1 (kubectl) would not read as strings are quoted', () => {
    const input = DEPLOYMENT.replace('tags.datadoghq.com/env: prod', 'tags.datadoghq.com/env: "on"\n    tags.datadoghq.com/version: "0777"');
    const r = injectDocuments(input, opts());
    assert.match(r.output, /- name: DD_ENV\n\s+value: "on"/);
    assert.match(r.output, /- name: DD_VERSION\n\s+value: "0777"/);
  });

  test('JSON input stays JSON: untouched byte for byte, a mutated pod gets JSON added in place', () => {
    const cm = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}';
    assert.equal(injectDocuments(cm, opts()).output, cm);
    const pod = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"admission.datadoghq.com/enabled":"true"}},"spec":{"containers":[{"name":"a","image":"i"}]}}';
    const out = injectDocuments(pod, opts()).output;
    const value = JSON.parse(out) as { spec: { containers: { env: { name: string }[] }[] } };
    assert.deepEqual(value.spec.containers[0]!.env.map((e) => e.name), ['DD_AGENT_HOST', 'DD_ENTITY_ID', 'DD_INTERNAL_POD_UID', 'DD_EXTERNAL_ENV']);
    assert.ok(out.startsWith('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"admission.datadoghq.com/enabled":"true"}},"spec":{"containers":[{"name":"a","image":"i","env":[{"name":"DD_AGENT_HOST"'), out);
  });

  test("a Namespace document's Pod Security level applies to pods in that namespace", () => {
    const input = `apiVersion: v1
kind: Namespace
metadata: {name: secure, labels: {pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: secure
  labels: {admission.datadoghq.com/enabled: "true"}
  annotations: {admission.datadoghq.com/java-lib.version: v1}
spec:
  containers: [{name: app, image: app}]
`;
    const [, p] = docs(injectDocuments(input, opts()).output);
    assert.equal(p.spec.initContainers[0].securityContext.runAsNonRoot, true);
  });

  test("the namespace flag applies to documents without one; Tether's own namespace is never mutated", () => {
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {admission.datadoghq.com/enabled: "true"}}\nspec: {containers: [{name: a}]}\n';
    assert.equal(injectDocuments(pod, { ...opts(), namespace: 'datadog' }).output.includes('DD_AGENT_HOST'), false);
    assert.equal(injectDocuments(pod, opts()).output.includes('DD_AGENT_HOST'), true);
  });

  test('bad input names the document index and line', () => {
    const cases: [string, RegExp][] = [
      ['a: 1\n---\nb: [\n', /^document 1 \(line \d\): not valid YAML or JSON/],
      ['a: 1\n---\n- x\n', /^document 1 \(line 3\): expected an object/],
      ['a: 1\n---\n---\n"just a string"\n', /^document 2 \(line 4\): expected an object/],
      ['apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{image: x}]}\n', /^document 0 \(line 1\): the document is not a valid pod: pod\.spec\.containers\[0\]\.name: expected a non-empty string/],
      // Anchors are per document: an alias to another document's anchor is an error, not a crash.
      ['a: &x 1\n---\nb: 2\nc: *x\n', /^document 1 \(line 4\): not valid YAML or JSON: Unresolved alias/],
      // A merge key must merge a mapping (the yaml library threw from toJS: "unexpected error" and a stack).
      ['a: 1\n---\nkind: Pod\nspec:\n  x:\n    <<: text\n', /^document 1 \(line 6\): not valid YAML: a merge key \(<<\) must be followed by a mapping/],
    ];
    for (const [text, re] of cases) {
      assert.throws(() => injectDocuments(text, opts()), (e: unknown) => e instanceof InjectInputError && re.test(e.message), text);
    }
  });

  test('a stream with nothing to inject comes out unchanged: empty, comments only, empty documents', () => {
    for (const text of ['', '# only a comment\n', 'a: 1\n---\n---\n# nothing here\n', '---\n...\n']) {
      assert.equal(injectDocuments(text, opts()).output, text);
    }
  });

  test('a duplicated key: the last value is used, as kubectl does, with a warning naming the document and line', () => {
    const input = `apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: old}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels:
        admission.datadoghq.com/enabled: "false"
        admission.datadoghq.com/enabled: "true"
    spec:
      containers:
        - name: app
          image: a
          image: b
          image: c
`;
    const r = injectDocuments(input, opts());
    assert.deepEqual(
      r.warnings.map((w) => w.message),
      [
        'document 1 (line 12): key "selector" appears twice; using the last value, as kubectl does',
        'document 1 (line 18): key "admission.datadoghq.com/enabled" appears twice; using the last value, as kubectl does',
        'document 1 (line 24): key "image" appears 3 times; using the last value, as kubectl does',
      ],
    );
    const [, d] = parseAllDocuments(r.output, { uniqueKeys: false }).map((x) => x.toJS());
    assert.deepEqual(d.spec.selector, { matchLabels: { app: 'web' } });
    assert.equal(d.spec.template.spec.containers[0].image, 'c');
    // The last label value (enabled) decided the injection; the duplicates themselves are left as written.
    assert.equal(d.spec.template.spec.containers[0].env[0].name, 'DD_AGENT_HOST');
    assert.equal(r.output.split('image: ').length, 4);
    assert.equal(r.reformatted.length, 0);
  });

  test('JSON with a duplicated key: the last value, warned', () => {
    const r = injectDocuments('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"}}', opts());
    assert.deepEqual(r.warnings.map((w) => w.message), ['document 0 (line 1): key "name" appears twice; using the last value, as kubectl does']);
  });
});
