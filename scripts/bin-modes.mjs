// Makes every bin that package.json declares executable. The build deletes dist/ and tsc writes files
// without the executable bit; npm sets it only when it links a bin (install, or npx's first run), so
// after a rebuild `npx tether` failed with "Permission denied". Run at the end of `npm run build`.
// Plain Node (no dependency), so it works wherever npm does; chmod is a no-op where modes don't exist.
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
for (const bin of new Set(bins)) {
  const file = fileURLToPath(new URL(bin, root));
  // u+x, g+x, o+x on top of what the file has: the same mode npm gives a linked bin.
  chmodSync(file, statSync(file).mode | 0o111);
}
