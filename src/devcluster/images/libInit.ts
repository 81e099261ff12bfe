/**
 * The `dd-lib-<lang>-init` images, as the stack's are made: the library in the working directory
 * (/operator-build) beside a `copy-lib.sh` that copies it into the directory it is given, which is
 * the shared volume the webhook mounts at /datadog-lib and points the application's env at
 * (`sh copy-lib.sh /datadog-lib`, the webhook's command). Besides the library, the image holds only a
 * shell and `cp` (the host's dash and coreutils' cp with the libraries they load), and runs as a
 * numeric non-root user, so that it starts under the `restricted` Pod Security level.
 */
import { LIB_INIT_COMMAND, libInitImageRepository, SCHEMA, type BuildableLibLanguage } from '../../config/index.js';
import { buildImage, type BuildImageOptions, type BuiltImage } from './build.js';
import { PATH_ENV, type ImageSpec } from './catalogue.js';
import { EXEC_MODE, type LayerEntry, type LayerPlan } from './layerPlan.js';
import { baseLayer, NONROOT_UID } from './layers.js';
import { sharedLibraries } from './ldd.js';
import { fetchLibrary, LIB_PACKAGES, resolveLibraryVersion, type FetchedLibrary } from './libraries.js';

/** The init images' working directory, where `copy-lib.sh` and the library are (the stack's). */
export const LIB_INIT_WORKDIR = '/operator-build';
/** The registry the webhook names by default (`auto_instrumentation.container_registry`). */
export const DEFAULT_LIB_REGISTRY = SCHEMA['admission_controller.auto_instrumentation.container_registry'].default as string;

/** What each language's copy-lib.sh copies, relative to the working directory: what its injected env points to. */
const COPIED: Record<BuildableLibLanguage, readonly { readonly name: string; readonly kind: 'file' | 'tree' }[]> = {
  // NODE_OPTIONS=--require=/datadog-lib/node_modules/dd-trace/init
  js: [{ name: 'node_modules', kind: 'tree' }],
  // PYTHONPATH=/datadog-lib/: sitecustomize.py runs at start and finds ddtrace_pkgs beside it.
  python: [
    { name: 'sitecustomize.py', kind: 'file' },
    { name: 'ddtrace_pkgs', kind: 'tree' },
  ],
  // JAVA_TOOL_OPTIONS=-javaagent:/datadog-lib/dd-java-agent.jar
  java: [{ name: 'dd-java-agent.jar', kind: 'file' }],
};

/** Pure: the script the webhook's command runs in the init container; `$1` is the shared volume. */
export function copyLibScript(lang: BuildableLibLanguage): string {
  return `#!/bin/sh
# Copies ${LIB_PACKAGES[lang]} into the volume the application containers mount ($1), where the env the
# admission webhook injected looks for it.
set -eu
cp -R ${COPIED[lang].map((c) => c.name).join(' ')} "$1/"
`;
}

/** Pure: the tag of a library's init image: its version with the stack's `v` (`v5.132.0`). */
export const libInitTag = (version: string): string => `v${version}`;

/** Pure: `<registry>/dd-lib-<lang>-init:v<version>`, what the webhook names for `<lang>-lib.version: v<version>`. */
export function libInitImageRef(lang: BuildableLibLanguage, version: string, registry: string = DEFAULT_LIB_REGISTRY): string {
  return `${libInitImageRepository(registry, lang)}:${libInitTag(version)}`;
}

/** The host's programs the init images carry, at the paths their PATH finds them. */
const SHELL_PROGRAMS = [
  { path: '/bin/sh', source: '/usr/bin/dash' },
  { path: '/bin/cp', source: '/usr/bin/cp' },
] as const;

/** `sh` and `cp` from the host, with the shared libraries they load (each once). */
export async function shellLayer(): Promise<LayerPlan> {
  const libs = new Set<string>();
  for (const p of SHELL_PROGRAMS) for (const lib of await sharedLibraries(p.source)) libs.add(lib);
  return {
    name: 'shell',
    entries: [...SHELL_PROGRAMS.map((p): LayerEntry => ({ kind: 'file', path: p.path, source: p.source, mode: EXEC_MODE })), ...[...libs].sort().map((lib): LayerEntry => ({ kind: 'file', path: lib, source: lib }))],
  };
}

/** The library as fetched (libraries.ts) and the copy script, in the working directory. */
export function libraryLayer(lib: FetchedLibrary): LayerPlan {
  return {
    name: `${LIB_PACKAGES[lib.lang]}-${lib.version}`,
    entries: [
      ...COPIED[lib.lang].map((c): LayerEntry => ({ kind: c.kind, path: `${LIB_INIT_WORKDIR}/${c.name}`, source: `${lib.dir}/${c.name}` })),
      { kind: 'content', path: `${LIB_INIT_WORKDIR}/copy-lib.sh`, content: copyLibScript(lib.lang), mode: EXEC_MODE },
    ],
  };
}

/** The init image of a fetched library, named under `registry`. */
export function libInitImageSpec(lib: FetchedLibrary, registry: string = DEFAULT_LIB_REGISTRY): ImageSpec {
  return {
    name: `dd-lib-${lib.lang}-init-${lib.version}`,
    ref: libInitImageRef(lib.lang, lib.version, registry),
    config: {
      // The webhook's command, so that the image alone does what the init container does.
      entrypoint: LIB_INIT_COMMAND.slice(0, 2),
      cmd: LIB_INIT_COMMAND.slice(2),
      user: `${NONROOT_UID}:${NONROOT_UID}`,
      workdir: LIB_INIT_WORKDIR,
      env: { PATH: PATH_ENV },
      labels: {
        'org.opencontainers.image.title': `dd-lib-${lib.lang}-init`,
        'org.opencontainers.image.version': lib.version,
        'org.opencontainers.image.description': `${LIB_PACKAGES[lib.lang]} ${lib.version} for library injection`,
      },
    },
    layers: async () => [baseLayer(), await shellLayer(), libraryLayer(lib)],
  };
}

export interface BuiltLibInitImage extends BuiltImage {
  readonly lang: BuildableLibLanguage;
  /** The release the version argument resolved to. */
  readonly version: string;
  /** True when the library came from the cache, not the registry. */
  readonly libraryCached: boolean;
}

/**
 * `tether image lib <lang> <version>`: resolves the version (a range names its newest release), fetches
 * the library (or takes it from the cache) and builds its init image (or takes it from the cache).
 */
export async function buildLibInitImage(lang: BuildableLibLanguage, wanted: string, o: BuildImageOptions & { registry?: string; libraryCacheDir?: string } = {}): Promise<BuiltLibInitImage> {
  const exact = /^v?\d+\.\d+\.\d+$/.test(wanted.trim()) ? wanted.trim().replace(/^v/, '') : undefined;
  // An exact version already fetched needs no registry at all (air-gapped rebuilds).
  const version = exact ?? (await resolveLibraryVersion(lang, wanted));
  const lib = await fetchLibrary(lang, version, { ...(o.libraryCacheDir ? { cacheDir: o.libraryCacheDir } : {}), ...(o.log ? { log: o.log } : {}) });
  const built = await buildImage(libInitImageSpec(lib, o.registry), o);
  return { ...built, lang, version, libraryCached: lib.cached };
}
