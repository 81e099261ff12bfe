/** The report: the table, the targets met or missed, and with --json one JSON object on the last line of stdout. */

import { cpus } from 'node:os';
import type { Options } from './flags.js';
import type { ScenarioFigures } from './scenarios.js';

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
export const mib = (bytes: number) => round(bytes / 1024 / 1024, 1);

// ---------------------------------------------------------------------------------------------------
// output

function table(rows: ScenarioFigures[]): string {
  const head = ['scenario', 'conns', 'body KiB', 'tether rps', 'noop rps', 'decode rps', 'diff rps', 'vs noop', 'vs decode', 'vs diff', 'p50 ms @½', 'p99 ms @½', 'srv p99 ≤', 'noop p99 @½', 'RSS MiB', 'cpu srv/gen', 'other'];
  const lines = rows.map((r) => [
    r.name,
    String(r.connections),
    r.body_kb.toFixed(1),
    String(r.rps),
    String(r.noop_rps),
    String(r.decode_rps),
    String(r.diff_rps),
    `${Math.round((100 * r.rps) / r.noop_rps)}%`,
    `${Math.round((100 * r.rps) / r.decode_rps)}%`,
    `${(r.rps / r.diff_rps).toFixed(2)}x`,
    Number.isNaN(r.p50_ms) ? '-' : r.p50_ms.toFixed(2),
    Number.isNaN(r.p99_ms) ? '-' : r.p99_ms.toFixed(2),
    Number.isNaN(r.server_p99_ms) ? '-' : r.server_p99_ms.toFixed(2),
    Number.isNaN(r.noop_p99_ms) ? '-' : r.noop_p99_ms.toFixed(2),
    r.rss_mb.toFixed(1),
    `${r.server_cpu.toFixed(2)}/${r.generator_cpu.toFixed(2)}`,
    r.other_cpu.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ') + ' |';
  return [fmt(head), '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|') + '|', ...lines.map(fmt)].join('\n');
}

interface Target {
  readonly what: string;
  /** `undefined`: a figure for context, not one of the issue's targets. */
  readonly met: boolean | undefined;
  readonly detail: string;
}

function targets(rows: ScenarioFigures[]): Target[] {
  const main = rows.filter((r) => !r.name.startsWith('sweep-'));
  const list = (rs: ScenarioFigures[], f: (r: ScenarioFigures) => string) => rs.map(f).join(', ');
  const vsNoop = main.filter((r) => r.containers === 1 || r.containers === 10);
  const vsDiff = main.filter((r) => r.containers === 10 || r.containers === 100);
  const maxRss = Math.max(...rows.map((r) => r.rss_mb));
  return [
    {
      what: 'throughput >= 75% of the no-op baseline (1 and 10 containers)',
      met: vsNoop.every((r) => r.rps >= 0.75 * r.noop_rps),
      detail: list(vsNoop, (r) => `${r.name} ${Math.round((100 * r.rps) / r.noop_rps)}%`),
    },
    {
      what: 'throughput >= 2x the diff baseline (10 and 100 containers)',
      met: vsDiff.every((r) => r.rps >= 2 * r.diff_rps),
      detail: list(vsDiff, (r) => `${r.name} ${(r.rps / r.diff_rps).toFixed(2)}x`),
    },
    {
      what: 'p99 < 5 ms at half of peak throughput',
      met: main.every((r) => r.p99_ms < 5),
      detail: list(main, (r) => `${r.name} ${r.p99_ms.toFixed(2)} ms (no-op ${r.noop_p99_ms.toFixed(2)}, server side <= ${r.server_p99_ms})`),
    },
    { what: 'RSS < 150 MB under load', met: maxRss < 150 * 1e6 / 1024 / 1024, detail: `max ${maxRss} MiB` },
    {
      // Issue 22: what Tether does beyond decoding the review (validate, mutate, encode the patch, the
      // server path) may cost at most as much again as the decode itself.
      what: 'throughput >= 50% of the no-op that decodes the review (1 and 10 containers)',
      met: vsNoop.every((r) => r.rps >= 0.5 * r.decode_rps),
      detail: list(vsNoop, (r) => `${r.name} ${Math.round((100 * r.rps) / r.decode_rps)}%`),
    },
  ];
}

/** How the run spent its time (`--budget`): all of it, waiting for quiet, and runs measured again. */
export interface RunTime {
  readonly elapsed_sec: number;
  readonly waited_sec: number;
  readonly repeats: number;
  /** The Node flags Tether ran with (the chart's `clusterAgent.nodeOptions`; empty with --node-defaults). */
  readonly tether_node_options: string;
}

export function report(rows: ScenarioFigures[], opts: Options, time: RunTime): void {
  const out: string[] = [];
  const cpu = cpus();
  out.push(
    `Tether webhook benchmark on ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ${opts.workers === undefined ? 'tether serve (one process) against single-process baselines' : `Tether's server and each baseline in ${opts.workers} cluster worker(s)`}`,
  );
  out.push(`${opts.durationSec} s per run after ${opts.warmupSec} s of warm-up; peak = closed loop (autocannon); p50/p99 = open loop at half of Tether's peak; RSS = max of Tether's process tree`);
  out.push('');
  out.push(table(rows));
  out.push('');
  out.push(`Tether's Node flags: ${time.tether_node_options || "Node's defaults"}`);
  out.push(`${time.elapsed_sec} s in all (budget ${opts.budgetSec} s), ${time.waited_sec} s of it waiting for quiet, ${time.repeats} run(s) measured again`);
  for (const t of targets(rows)) out.push(`${t.met === undefined ? 'INFO   ' : t.met ? 'MET    ' : 'MISSED '} ${t.what}: ${t.detail}`);
  process.stdout.write(out.join('\n') + '\n');
  if (opts.json) {
    const json = { ...time, scenarios: rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && Number.isNaN(v) ? null : v]))) };
    process.stdout.write(JSON.stringify(json) + '\n');
  }
}

