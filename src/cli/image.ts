/**
 * `tether image build [NAME...] [--out FILE]`: the container images as OCI archives, built without a
 * Docker daemon (devcluster/images). Flags and wiring only.
 */
import type { Command } from 'commander';
import { IMAGE_NAMES as NAMES, isImageName, type ImageName } from '../devcluster/images/catalogue.js';
import { CliError } from './errors.js';

interface BuildFlags {
  out?: string;
  cacheDir?: string;
  json?: boolean;
}

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
        if (!flags.json) {
          process.stdout.write(`${built.ref}\n  digest  ${built.digest}\n  archive ${built.archivePath}\n  size    ${(built.size / 1e6).toFixed(1)} MB compressed, ${(built.uncompressedSize / 1e6).toFixed(1)} MB uncompressed${built.cached ? ' (cached)' : ''}\n`);
        }
      }
      if (flags.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      else process.stdout.write(`\nLoad: ctr -n k8s.io images import ARCHIVE | kind load image-archive ARCHIVE | docker load -i ARCHIVE\n`);
    });
}
