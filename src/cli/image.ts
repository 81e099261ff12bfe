/**
 * `tether image build [NAME...] [--out FILE]`: the container images as OCI archives, built without a
 * Docker daemon (devcluster/images). `tether image lib LANG VERSION`: a library's init image for
 * library injection, from the library's own registry. Flags and wiring only.
 */
import type { Command } from 'commander';
import { IMAGE_NAMES as NAMES, isImageName, type ImageName } from '../devcluster/images/catalogue.js';
import { BUILDABLE_LIB_LANGUAGES as LIB_LANGS, isBuildableLibLanguage } from '../config/index.js';
import { CliError } from './errors.js';

interface BuildFlags {
  out?: string;
  cacheDir?: string;
  json?: boolean;
}

interface LibFlags extends BuildFlags {
  registry?: string;
  load?: boolean;
  containerdAddress: string;
}

/** What an image's build prints without --json. */
function describe(built: { ref: string; digest: string; archivePath: string; size: number; uncompressedSize: number; cached: boolean }): string {
  return `${built.ref}\n  digest  ${built.digest}\n  archive ${built.archivePath}\n  size    ${(built.size / 1e6).toFixed(1)} MB compressed, ${(built.uncompressedSize / 1e6).toFixed(1)} MB uncompressed${built.cached ? ' (cached)' : ''}\n`;
}

const LOAD_HINT = `\nLoad: ctr -n k8s.io images import ARCHIVE | kind load image-archive ARCHIVE | docker load -i ARCHIVE\n`;

export function registerImage(program: Command): void {
  const image = program.command('image').description('container images, built without a Docker daemon');
  image
    .command('build')
    .description(`build images as OCI archives that ctr images import, kind load image-archive, docker load and crane push take (${NAMES.join(', ')}; default tether)`)
    .argument('[names...]', `images to build: ${NAMES.join(', ')}`)
    .option('--out <file>', 'also write the archive here (one image only)')
    .option('--cache-dir <dir>', 'layer and archive cache (default: $TETHER_TOOLS_DIR/images, else ~/.cache/tether/images)')
    .option('--json', 'print the results as JSON (digest, archive, layer sizes)')
    .action(async (names: string[], flags: BuildFlags) => {
      // Loaded on demand: the build brings the Kubernetes client (through the dev cluster's helpers).
      const { buildImage } = await import('../devcluster/images/build.js');
      const wanted = names.length > 0 ? names : ['tether'];
      for (const n of wanted) if (!isImageName(n)) throw new CliError(`no image named ${n} (images: ${NAMES.join(', ')})`, 2);
      if (flags.out && wanted.length > 1) throw new CliError('--out names one archive: build one image at a time with it', 2);
      const results = [];
      for (const n of wanted) {
        const started = Date.now();
        const built = await buildImage(n as ImageName, {
          ...(flags.out ? { out: flags.out } : {}),
          ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
          log: (line) => process.stderr.write(`${line}\n`),
        });
        results.push({ ...built, seconds: (Date.now() - started) / 1000 });
        if (!flags.json) process.stdout.write(describe(built));
      }
      if (flags.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      else process.stdout.write(LOAD_HINT);
    });
  image
    .command('lib')
    .description(`build a tracing library's init image for library injection (${LIB_LANGS.join(', ')}), from the library's registry, tagged v<version>: what admission.datadoghq.com/<lang>-lib.version: v<version> names`)
    .argument('<lang>', `the library's language: ${LIB_LANGS.join(', ')}`)
    .argument('<version>', 'a release (5.132.0) or a range the registry resolves to its newest release (5.x, ^5.1)')
    .option('--registry <registry>', 'the registry the image is named under: the webhook\'s admission_controller.auto_instrumentation.container_registry (default gcr.io/datadoghq)')
    .option('--out <file>', 'also write the archive here')
    .option('--cache-dir <dir>', 'layer, archive and library cache (default: $TETHER_TOOLS_DIR, else ~/.cache/tether)')
    .option('--load', 'import the archive into containerd (ctr -n k8s.io images import), where the kubelet finds it')
    .option('--containerd-address <socket>', 'containerd\'s socket, with --load', '/run/containerd/containerd.sock')
    .option('--json', 'print the result as JSON (version, digest, archive, layer sizes)')
    .action(async (lang: string, version: string, flags: LibFlags) => {
      if (!isBuildableLibLanguage(lang)) throw new CliError(`no init image for ${lang}: tether builds ${LIB_LANGS.join(', ')}`, 2);
      // An image reference's registry and path: lower case, no spaces, no tag (the tag is the version).
      if (flags.registry !== undefined && !/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/.test(flags.registry)) {
        throw new CliError(`--registry ${JSON.stringify(flags.registry)} is not a registry and path (e.g. registry.internal:5000/datadog)`, 2);
      }
      const { buildLibInitImage } = await import('../devcluster/images/libInit.js');
      const { LibraryError } = await import('../devcluster/images/libraries.js');
      const started = Date.now();
      const built = await buildLibInitImage(lang, version, {
        ...(flags.registry ? { registry: flags.registry } : {}),
        ...(flags.out ? { out: flags.out } : {}),
        ...(flags.cacheDir ? { cacheDir: `${flags.cacheDir}/images`, libraryCacheDir: `${flags.cacheDir}/libraries` } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      }).catch((e: unknown) => {
        throw e instanceof LibraryError ? new CliError(e.message, 1) : e;
      });
      if (flags.load) {
        const { execFile } = await import('node:child_process');
        const { promisify } = await import('node:util');
        await promisify(execFile)('ctr', ['--address', flags.containerdAddress, '--namespace', 'k8s.io', 'images', 'import', built.archivePath], { timeout: 300_000 }).catch((e: { stderr?: string; message: string }) => {
          throw new CliError(`ctr images import ${built.archivePath} failed: ${(e.stderr ?? e.message).trim()}`, 1);
        });
      }
      const result = { ...built, seconds: (Date.now() - started) / 1000, loaded: flags.load === true };
      if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else process.stdout.write(`${describe(built)}\nAnnotate pods with admission.datadoghq.com/${lang}-lib.version: v${built.version}${flags.load ? ' (loaded into containerd)' : LOAD_HINT}`);
    });
}
