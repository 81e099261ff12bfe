/** The in-place editor on its own: each shape of YAML and JSON an operation can land in. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CannotEditInPlace, editInPlace } from '../../../src/inject/sourceEdit.js';
import { injectDocuments } from '../../../src/inject/documents.js';
import type { JsonPatchOp } from '../../../src/admission/jsonpatch.js';
import { testConfig } from '../fixtures.js';

const add = (path: string, value: unknown): JsonPatchOp => ({ op: 'add', path, value });
const ENV = { name: 'DD_AGENT_HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } };

describe('block YAML', () => {
  test('a new key goes after the last one, at the mapping\'s column, nested in the document\'s indentation', () => {
    const src = 'spec:\n    containers:\n    -   name: a  # first\n        image: i\n# end\n';
    assert.equal(
      editInPlace(src, [add('/spec/containers/0/env', [ENV])]),
      'spec:\n    containers:\n    -   name: a  # first\n        image: i\n        env:\n        -   name: DD_AGENT_HOST\n            valueFrom:\n                fieldRef:\n                    fieldPath: status.hostIP\n# end\n',
    );
  });

  test('at the end of a file without a final newline: the newline goes before the new lines, none after', () => {
    assert.equal(editInPlace('a:\n  b: 1', [add('/a/c', 2)]), 'a:\n  b: 1\n  c: 2');
  });

  test('a block scalar ends the file without a newline: the new key goes before the last one, the scalar untouched', () => {
    assert.equal(editInPlace('a:\n  b: 1\n  s: |\n    x', [add('/a/c', 2)]), 'a:\n  b: 1\n  c: 2\n  s: |\n    x');
    assert.throws(() => editInPlace('l:\n- 1\n- |\n  x', [add('/l/-', 2)]), CannotEditInPlace);
  });

  test('a list item added in front goes above the comment of the item it precedes', () => {
    assert.equal(editInPlace('env:\n  # why A\n  - name: A\n', [add('/env/0', { name: 'B' })]), 'env:\n  - name: B\n  # why A\n  - name: A\n');
  });

  test('`key:` with nothing (a comment at most): the line stays, the value goes after the colon or below', () => {
    assert.equal(editInPlace('c:\n  env:   # none yet\n  x: 1\n', [add('/c/env', [{ name: 'A' }])]), 'c:\n  env:   # none yet\n    - name: A\n  x: 1\n');
    assert.equal(editInPlace('c:\n  value:   # set by CI\n', [add('/c/value', 'on')]), 'c:\n  value: "on"   # set by CI\n');
  });

  test('a value set in place keeps its quoting; `null` written out is replaced with the list', () => {
    assert.equal(editInPlace('v: "-Xmx1g"\nw: \'a\'\n', [add('/v', '-Xmx1g -javaagent:x'), add('/w', "it's")]), 'v: "-Xmx1g -javaagent:x"\nw: \'it\'\'s\'\n');
    assert.equal(editInPlace('s:\n  l: null # later\n  k: 1\n', [add('/s/l', ['a'])]), 's:\n  l:\n    - a\n  k: 1\n');
  });

  test('a duplicated key: the edit goes to the last one, the one kubectl keeps', () => {
    assert.equal(editInPlace('m:\n  a: 1\nm:\n  a: 2\n', [add('/m/b', 3)]), 'm:\n  a: 1\nm:\n  a: 2\n  b: 3\n');
  });

  test('CRLF files get CRLF lines', () => {
    assert.equal(editInPlace('a:\r\n  - x\r\n', [add('/a/-', { k: 'v', l: [1] })]), 'a:\r\n  - x\r\n  - k: v\r\n    l:\r\n      - 1\r\n');
  });

  test('shapes it will not edit in place are refused, never guessed', () => {
    assert.throws(() => editInPlace('base: &b [1]\nuse: *b\n', [add('/use/-', 2)]), /alias/);
    assert.throws(() => editInPlace('l:\n- - a\n', [add('/l/0/0', 'b')]), /does not start its line/);
    assert.throws(() => editInPlace('a: 1\n', [add('/b/c', 1)]), /no "b"/);
  });
});

describe('flow YAML and JSON', () => {
  test('flow collections get items inline, written as flow', () => {
    assert.equal(editInPlace('c: [{name: a}]\n', [add('/c/0/env', [ENV])]), 'c: [{name: a, env: [{name: DD_AGENT_HOST, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}]}]\n');
    assert.equal(editInPlace('l: [b, "c,d"]\n', [add('/l/0', 'x,y'), add('/l/-', 'on')]), 'l: ["x,y", b, "c,d", "on"]\n');
    assert.equal(editInPlace('m: {}\n', [add('/m/k', 'v')]), 'm: {k: v}\n');
  });

  test('compact JSON stays compact, pretty JSON stays pretty at the items\' indentation', () => {
    assert.equal(editInPlace('{"a":[1],"b":{}}', [add('/a/-', { k: 'v' }), add('/b/c', true)]), '{"a":[1,{"k":"v"}],"b":{"c":true}}');
    assert.equal(
      editInPlace('{\n    "a": [\n        1\n    ],\n    "e": []\n}\n', [add('/a/0', 0), add('/e/-', { k: 1 })]),
      '{\n    "a": [\n        0,\n        1\n    ],\n    "e": [\n        {\n            "k": 1\n        }\n    ]\n}\n',
    );
  });
});

describe('the fallback', () => {
  test('a document that cannot be edited in place is re-serialised alone, said in a warning; the others stay byte for byte', () => {
    const input = `# kept
kind: ConfigMap
apiVersion: v1
metadata: {name: x}
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels:
    admission.datadoghq.com/enabled: "true"
spec:
  containers: &c
  - name: a
    image: i
  initContainers: *c
`;
    const r = injectDocuments(input, { config: testConfig(), namespace: 'default', tetherNamespace: 'datadog' });
    assert.deepEqual(r.reformatted, [1]);
    assert.match(r.warnings[0]?.message ?? '', /^document 1 \(line 5\): could not be edited in place \(.*\); written re-formatted/);
    assert.ok(r.output.startsWith(input.slice(0, input.indexOf('---'))));
    assert.match(r.output, /DD_AGENT_HOST/);
  });
});
