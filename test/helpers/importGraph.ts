/**
 * The import graph of `src/`, read from the sources (static `import`/`export … from`, `import type`, and
 * dynamic `import('…')` of relative paths), folded to folders: `src/<folder>/…`. For the architecture
 * test (ARCHITECTURE.md's arrows).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

export interface ImportEdge {
  /** `src/`-relative paths, e.g. `console/console.ts`. */
  readonly from: string;
  readonly to: string;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every relative import between files under `srcDir`. */
export function readImportGraph(srcDir: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts');
      const to = relative(srcDir, target);
      if (to.startsWith('..')) continue;
      edges.push({ from: relative(srcDir, file).split(sep).join('/'), to: to.split(sep).join('/') });
    }
  }
  return edges;
}

/** `console/console.ts` → `console`; a file directly in src/ is its own folder. */
export const folderOf = (file: string): string => file.split('/')[0]!;

/** Edges between different folders, as `from → to` folder pairs, each with the file imports behind it. */
export function folderEdges(edges: readonly ImportEdge[]): Map<string, ImportEdge[]> {
  const out = new Map<string, ImportEdge[]>();
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === b) continue;
    const key = `${a} → ${b}`;
    out.set(key, [...(out.get(key) ?? []), e]);
  }
  return out;
}

/** The folder cycles: each strongly connected component of more than one folder (Tarjan), sorted. */
export function folderCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === b) continue;
    if (!next.has(a)) next.set(a, new Set());
    if (!next.has(b)) next.set(b, new Set());
    next.get(a)!.add(b);
  }
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) components.push(c.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return components.sort((a, b) => a[0]!.localeCompare(b[0]!));
}
