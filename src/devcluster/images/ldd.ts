/**
 * The shared libraries a dynamically linked program loads, from `ldd`: what an image must carry beside
 * the program (Node's: libc, libstdc++, libgcc_s, libm... and the dynamic loader itself).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * The absolute paths in `ldd` output, in order: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)`
 * gives the path after `=>`; the loader's line `/lib64/ld-linux-x86-64.so.2 (0x…)` gives itself. The
 * vDSO (`linux-vdso.so.1 (0x…)`) is the kernel's and has no file. A library ldd cannot find is an
 * error naming it: an image without it would not start.
 */
export function parseLdd(output: string, program: string): string[] {
  const paths: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('linux-vdso') || line.startsWith('linux-gate')) continue;
    if (/statically linked/.test(line)) continue;
    const arrow = /^(\S+)\s+=>\s+(.*)$/.exec(line);
    if (arrow) {
      const target = arrow[2]!.trim();
      if (target.startsWith('not found')) throw new Error(`${program} needs ${arrow[1]}, which ldd cannot find`);
      const path = /^(\/\S+)/.exec(target)?.[1];
      if (path) paths.push(path);
      continue;
    }
    const direct = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    if (direct) {
      paths.push(direct[1]!);
      continue;
    }
    throw new Error(`unexpected ldd output for ${program}: ${line}`);
  }
  return paths;
}

/**
 * `ldd program`, parsed. `libraryPath`: directories searched first (LD_LIBRARY_PATH), for a program whose
 * own libraries are found through its RPATH at run time (a JDK's lib/*.so and lib/server/libjvm.so).
 */
export async function sharedLibraries(program: string, libraryPath: readonly string[] = []): Promise<string[]> {
  const env = libraryPath.length ? { ...process.env, LD_LIBRARY_PATH: libraryPath.join(':') } : process.env;
  const { stdout } = await promisify(execFile)('ldd', [program], { encoding: 'utf8', env });
  return parseLdd(stdout, program);
}
