/** `npm run bench`'s flags (see bench/run.ts). */

// ---------------------------------------------------------------------------------------------------
// flags

export interface Options {
  durationSec: number;
  warmupSec: number;
  connections: number;
  sweep: number[];
  /** undefined: `tether serve`; N: the server in N cluster workers, baselines likewise. */
  workers: number | undefined;
  /** Longest wait, before each run, for the machine to be quiet (other processes under 0.25 core). */
  quietWaitSec: number;
  /** Seconds the whole measurement should take: waits for quiet and repeats stop once they would overrun it. */
  budgetSec: number;
  /** Run Tether with Node's default flags instead of the chart's `clusterAgent.nodeOptions`. */
  nodeDefaults: boolean;
  json: boolean;
}

export function parseFlags(argv: readonly string[]): Options {
  const o: Options = { durationSec: 5, warmupSec: 1, connections: 32, sweep: [1, 4, 16, 64, 128], workers: undefined, quietWaitSec: 60, budgetSec: 600, nodeDefaults: false, json: false };
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = (): number => {
      const n = Number(value());
      if (!(n > 0)) throw new Error(`${flag} needs a positive number`);
      return n;
    };
    switch (flag) {
      case '--duration':
        o.durationSec = num();
        break;
      case '--warmup':
        o.warmupSec = Number(value());
        break;
      case '--connections':
        o.connections = Math.round(num());
        break;
      case '--sweep':
        o.sweep = value().split(',').map(Number).filter((n) => n > 0);
        break;
      case '--workers':
        o.workers = Math.round(num());
        break;
      case '--quiet-wait':
        o.quietWaitSec = Number(value());
        break;
      case '--budget':
        o.budgetSec = num();
        break;
      case '--node-defaults':
        o.nodeDefaults = true;
        break;
      case '--quick':
        quick = true;
        break;
      case '--json':
        o.json = true;
        break;
      case '--help':
        process.stdout.write('usage: node dist/bench/run.js [--duration S] [--warmup S] [--connections N] [--sweep 1,4,16,64] [--workers N] [--quiet-wait S] [--budget S] [--node-defaults] [--quick] [--json]\n');
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  if (quick) {
    o.durationSec = Math.min(o.durationSec, 2);
    o.warmupSec = Math.min(o.warmupSec, 0.5);
    o.sweep = [1, 16, 64];
  }
  return o;
}

