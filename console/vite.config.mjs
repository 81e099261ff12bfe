// Builds the console into dist/console/, which the cluster agent serves under /console/ (issue 12).
// Plain Vite, no plugin: Preact's JSX goes through Oxc's automatic runtime. Relative asset URLs, so the
// page also works behind a path prefix (kubectl proxy, an ingress). No CDN, font or external script.
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export default {
  root: here('.'),
  base: './',
  logLevel: 'warn',
  publicDir: here('public'),
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../dist/console'),
    emptyOutDir: true,
    target: 'es2022',
    // One small script and one stylesheet: no code-splitting round trips on the first screen.
    modulePreload: false,
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    sourcemap: false,
  },
};
