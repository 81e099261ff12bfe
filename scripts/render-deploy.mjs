#!/usr/bin/env node
// Renders deploy/*.yaml from the Helm chart (deploy/helm/tether) with its default values, so that the chart
// is the one source of Tether's manifests and RBAC: `kubectl apply -f deploy/`, `tether dev` and the
// end-to-end suites (which read these files, without helm at runtime) get exactly what the chart installs.
//
//   node scripts/render-deploy.mjs           rewrite deploy/*.yaml
//   node scripts/render-deploy.mjs --check   exit 1, naming the files, when deploy/*.yaml differ from a fresh render
//
// helm: $HELM, else `scripts/go-tools ensure helm` (built once into ~/.cache/tether).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHART = 'deploy/helm/tether';
const NAMESPACE = 'datadog';
const RELEASE = 'tether';

/**
 * Each file: the chart's templates it holds and the values it is rendered with beyond the defaults. Not
 * rendered here: the token Secret (a generated secret has no place in the repository: create it as
 * deploy/cluster-agent.yaml's header says), the objects the chart pre-creates only so that `helm
 * uninstall` removes them (templates/runtime-objects.yaml), and the network policies (off by default).
 */
export const DEPLOY_FILES = {
  'rbac.yaml': { templates: ['cluster-agent-rbac.yaml'] },
  'cluster-agent.yaml': { templates: ['cluster-agent-deployment.yaml', 'cluster-agent-pdb.yaml', 'admission-service.yaml'] },
  'cluster-agent-api.yaml': { templates: ['cluster-agent-api-service.yaml'] },
  'node-agent.yaml': { templates: ['node-agent-rbac.yaml', 'node-agent-local-service.yaml', 'node-agent-daemonset.yaml'] },
  // An option of the chart (diagnose.rbac.create), on for this file.
  'diagnose-rbac.yaml': { templates: ['diagnose-rbac.yaml'], set: ['diagnose.rbac.create=true'] },
  // An option of the chart (consoleViewer.rbac.create), on for this file.
  'console-viewer-rbac.yaml': { templates: ['console-viewer-rbac.yaml'], set: ['consoleViewer.rbac.create=true'] },
};

/** What each file says before the chart's text. */
const PREAMBLE = {
  'cluster-agent.yaml': [
    'Apply deploy/rbac.yaml first, and create the token Secret both agents read (at least 32 characters):',
    `  kubectl -n ${NAMESPACE} create secret generic datadog-cluster-agent --from-literal=token="$(openssl rand -hex 32)"`,
    '(`helm install` creates and keeps it for you.)',
  ],
  'node-agent.yaml': ['Apply deploy/cluster-agent-api.yaml first (see below).'],
};

export function helmBinary() {
  if (process.env.HELM) return process.env.HELM;
  const out = execFileSync(join(ROOT, 'scripts/go-tools'), ['ensure', 'helm'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop();
}

/** The text of deploy/<file> as the chart renders it now. */
export function render(helm, file) {
  const spec = DEPLOY_FILES[file];
  // No cluster, so no token to generate (the chart refuses to invent one per render): name the Secret
  // deploy/cluster-agent.yaml's header says to create, which is the chart's own name for it.
  const args = ['template', RELEASE, CHART, '--namespace', NAMESPACE, '--set', 'clusterAgent.tokenExistingSecret=datadog-cluster-agent'];
  for (const t of spec.templates) args.push('--show-only', `templates/${t}`);
  for (const s of spec.set ?? []) args.push('--set', s);
  const out = execFileSync(helm, args, { cwd: ROOT, encoding: 'utf8' });
  const body = out
    .split('\n')
    .filter((l) => !l.startsWith('# Source: '))
    .join('\n')
    .replace(/^---\n/, '')
    .replace(/\n+$/, '\n');
  const header = [
    `# Generated from ${CHART} by scripts/render-deploy.mjs (helm template, default values${spec.set ? `, ${spec.set.join(', ')}` : ''}): do not edit.`,
    '# Change the chart and run `node scripts/render-deploy.mjs`; a test fails when this file and the chart differ.',
    ...(PREAMBLE[file] ?? []).map((l) => `# ${l}`),
  ].join('\n');
  return `${header}\n${body}`;
}

function main() {
  const check = process.argv.includes('--check');
  const helm = helmBinary();
  const drifted = [];
  for (const file of Object.keys(DEPLOY_FILES)) {
    const path = join(ROOT, 'deploy', file);
    const want = render(helm, file);
    let have = '';
    try {
      have = readFileSync(path, 'utf8');
    } catch {}
    if (have === want) continue;
    if (check) drifted.push(`deploy/${file}`);
    else {
      writeFileSync(path, want);
      console.log(`wrote deploy/${file}`);
    }
  }
  if (drifted.length > 0) {
    console.error(`${drifted.join(', ')} differ from what ${CHART} renders: run \`node scripts/render-deploy.mjs\` and commit the result.`);
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
