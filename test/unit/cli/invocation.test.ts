/** `agent` is Tether's CLI under the agent stack's name (`kubectl exec <pod> -- agent status`). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { invokedAs } from '../../../src/cli/invocation.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

describe('invokedAs', () => {
  test('the image\'s /usr/bin/agent (and any path ending in agent) is agent', () => {
    assert.equal(invokedAs('/usr/bin/agent'), 'agent');
    assert.equal(invokedAs('agent'), 'agent');
  });

  test('everything else is tether: main.js, the tether wrapper, kubectl-tether, no argv[1]', () => {
    for (const s of ['/app/dist/src/cli/main.js', '/usr/bin/tether', '/usr/local/bin/kubectl-tether', '/usr/bin/agents', '/opt/agent/main.js', undefined]) {
      assert.equal(invokedAs(s), 'tether', String(s));
    }
  });
});

describe('the CLI run as agent', () => {
  test('answers to agent in its help and errors, with the same subcommands', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-agent-'));
    try {
      // What the image's /usr/bin/agent does: a script named agent that loads the CLI.
      const agent = join(dir, 'agent');
      writeFileSync(agent, `import(${JSON.stringify(MAIN)});\n`);
      const help = spawnSync(process.execPath, [agent, '--help'], { encoding: 'utf8' });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /^Usage: agent /m);
      assert.match(help.stdout, /^ {2}status /m);
      const bad = spawnSync(process.execPath, [agent, 'status', '-o', 'yaml'], { encoding: 'utf8' });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /^agent: -o yaml: expected one of text, json/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
