/** The pure parts of the library init images: version choice, the copy script, the image's reference and layout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { injectLibraries } from '../../../src/admission/libInjection.js';
import type { Pod } from '../../../src/admission/pod.js';
import { applyPatch } from '../../../src/admission/jsonpatch.js';
import { expandPlan } from '../../../src/devcluster/images/layerPlan.js';
import { copyLibScript, LIB_INIT_WORKDIR, libInitImageRef, libInitImageSpec } from '../../../src/devcluster/images/libInit.js';
import { checkVersionArgument, compareReleases, LibraryError, matchesRange, mavenMetadataVersions, newestRelease, npmViewVersions, pipIndexVersions } from '../../../src/devcluster/images/libraries.js';
import { testConfig } from '../../helpers/config.js';
import { BUILDABLE_LIB_LANGUAGES, type BuildableLibLanguage } from '../../../src/config/index.js';

test('a range resolves to the newest release npm view lists, whatever order it prints them in; nothing listed is no version', () => {
  const newestOfNpm = (out: string) => newestRelease(npmViewVersions(out));
  assert.equal(newestOfNpm('"5.132.0"\n'), '5.132.0');
  assert.equal(newestOfNpm(JSON.stringify(['5.9.0', '5.10.0', '5.132.0', '5.99.1'])), '5.132.0');
  assert.equal(newestOfNpm(JSON.stringify(['5.10.0', '5.9.0'])), '5.10.0', 'numeric, not text, order');
  assert.equal(newestOfNpm(JSON.stringify(['6.0.0-pre', '5.1.0'])), '5.1.0', 'pre-releases are never picked');
  assert.equal(newestOfNpm(''), undefined);
  assert.ok(compareReleases('5.10.0', '5.9.9') > 0);
  // pip's listing, filtered by the simple ranges (PyPI has no npm ranges).
  const pip = pipIndexVersions('ddtrace (4.16.0)\nAvailable versions: 4.16.0, 4.15.7, 3.9.0, 4.2rc1\n');
  assert.deepEqual(pip, ['4.16.0', '4.15.7', '3.9.0', '4.2rc1']);
  assert.equal(newestRelease(pip.filter((v) => matchesRange(v, '4.15.x'))), '4.15.7');
  assert.equal(newestRelease(pip.filter((v) => matchesRange(v, '3'))), '3.9.0');
  assert.equal(newestRelease(pip.filter((v) => matchesRange(v, '4.16.0'))), '4.16.0');
  assert.equal(newestRelease(pip.filter((v) => matchesRange(v, '5.x'))), undefined);
  assert.equal(matchesRange('4.16.0', '^4'), false, 'an npm range is not taken for a prefix');
});

test('version arguments: a version, a v-prefixed version or a range pass; anything that could be a flag or a command does not', () => {
  assert.equal(checkVersionArgument('js', 'v5.132.0'), '5.132.0');
  assert.equal(checkVersionArgument('js', '5.x'), '5.x');
  assert.equal(checkVersionArgument('js', '^5.1'), '^5.1');
  for (const bad of ['--registry=evil', 'latest; rm -rf /', '5.x$(id)', '', 'file:../x']) assert.throws(() => checkVersionArgument('js', bad), LibraryError, bad);
});

test("the image is named as the webhook names it for <lang>-lib.version: v<version> under the configured registry", () => {
  const ref = libInitImageRef('js', '5.132.0', 'localhost/tether');
  const pod = { metadata: { name: 'p', annotations: { 'admission.datadoghq.com/js-lib.version': 'v5.132.0' } }, spec: { containers: [{ name: 'app', image: 'app' }] } } as unknown as Pod;
  const config = testConfig({ 'admission_controller.auto_instrumentation.container_registry': 'localhost/tether' });
  const mutated = applyPatch(pod, injectLibraries(pod, { config, namespace: 'default', tetherNamespace: 'datadog', namespaceLabels: {} }).patch) as Pod;
  assert.equal(mutated.spec.initContainers?.[0]?.image, ref);
  assert.equal(libInitImageRef('js', '5.132.0'), 'gcr.io/datadoghq/dd-lib-js-init:v5.132.0', 'the webhook\'s default registry');
});

/** A fake of each library as fetched (libraries.ts lays them out so), and the file its injected env loads. */
const FAKE_LIBRARIES: Record<BuildableLibLanguage, { files: Record<string, string>; loaded: (env: Map<string, string>) => string }> = {
  js: { files: { 'node_modules/dd-trace/init.js': 'module.exports = 1;\n' }, loaded: (env) => `${/--require=(\S+)/.exec(env.get('NODE_OPTIONS') ?? '')![1]}.js` },
  python: { files: { 'sitecustomize.py': 'import ddtrace\n', 'ddtrace_pkgs/ddtrace/__init__.py': '' }, loaded: (env) => `${env.get('PYTHONPATH')!.split(':')[0]!.replace(/\/$/, '')}/sitecustomize.py` },
  java: { files: { 'dd-java-agent.jar': 'PK' }, loaded: (env) => /-javaagent:(\S+)/.exec(env.get('JAVA_TOOL_OPTIONS') ?? '')![1]! },
};

for (const lang of BUILDABLE_LIB_LANGUAGES) {
  test(`${lang}: copy-lib.sh, run as the webhook runs it, puts the library where the injected env loads it from; the image holds it in its working directory`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'libinit-'));
    try {
      const lib = join(dir, 'lib');
      for (const [f, content] of Object.entries(FAKE_LIBRARIES[lang].files)) {
        await mkdir(dirname(join(lib, f)), { recursive: true });
        await writeFile(join(lib, f), content);
      }
      await writeFile(join(lib, 'copy-lib.sh'), copyLibScript(lang));
      await mkdir(join(dir, 'volume'));
      // The webhook's init container and env, for a pod asking for this language.
      const pod = { metadata: { name: 'p', annotations: { [`admission.datadoghq.com/${lang}-lib.version`]: 'v1.0.0' } }, spec: { containers: [{ name: 'app', image: 'app' }] } } as unknown as Pod;
      const mutated = applyPatch(pod, injectLibraries(pod, { config: testConfig(), namespace: 'default', tetherNamespace: 'datadog', namespaceLabels: {} }).patch) as Pod;
      const command = mutated.spec.initContainers![0]!.command as string[];
      assert.deepEqual(command.slice(0, 2), ['sh', 'copy-lib.sh']);
      const volume = command[2]!;
      const run = () => promisify(execFile)('sh', ['copy-lib.sh', join(dir, 'volume')], { cwd: lib });
      await run();
      const env = new Map((mutated.spec.containers[0]!.env ?? []).map((e) => [e.name, e.value ?? '']));
      const loaded = FAKE_LIBRARIES[lang].loaded(env);
      assert.ok(loaded.startsWith(`${volume}/`), loaded);
      await stat(join(dir, 'volume', loaded.slice(volume.length)));
      // Twice (an init container restarted) is fine too.
      await run();

      const spec = libInitImageSpec({ lang, version: '1.0.0', dir: lib, cached: true }, 'localhost/tether');
      assert.equal(spec.config.workdir, LIB_INIT_WORKDIR);
      assert.match(spec.config.user, /^[1-9]\d*:\d+$/, 'a numeric non-root user: runAsNonRoot can check it');
      const layers = await spec.layers(dir);
      const paths = new Set((await Promise.all(layers.map(expandPlan))).flat().map((e) => `/${e.path}`));
      for (const p of ['/bin/sh', '/bin/cp', `${LIB_INIT_WORKDIR}/copy-lib.sh`, ...Object.keys(FAKE_LIBRARIES[lang].files).map((f) => `${LIB_INIT_WORKDIR}/${f}`)]) assert.ok(paths.has(p), p);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test("maven-metadata.xml's versions, filtered by a simple range", () => {
  const xml = '<metadata><versioning><latest>1.68.1</latest><versions>\n<version>1.9.0</version>\n<version>1.68.1</version>\n<version>0.99.0</version></versions></versioning></metadata>';
  const all = mavenMetadataVersions(xml);
  assert.deepEqual(all, ['1.9.0', '1.68.1', '0.99.0']);
  assert.equal(newestRelease(all.filter((v) => matchesRange(v, '1.x'))), '1.68.1');
});
