/**
 * One diagnose check (SPEC §8, issue 10): a small module with a name, what it finds and the fix in words
 * (the README's troubleshooting section is generated from these), and `run`, which reads the cluster
 * through the context and returns a result with its evidence. `status`, `diagnose` and the console all
 * read these results; none re-derives them.
 */
import type { TetherConfig } from '../config/index.js';
import type { KubeReader } from '../kube/reader.js';

export type CheckStatus = 'ok' | 'warning' | 'error' | 'skipped';

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  /** One line: what was found (or why the check was skipped). */
  readonly summary: string;
  /** The objects and values seen, one line each: what makes the summary true. */
  readonly evidence: readonly string[];
  /** What to do, with the exact `kubectl` command or setting; empty when nothing is wrong. */
  readonly fix: string;
}

/** What a check's `run` returns; the runner adds the name. */
export type CheckOutcome = Omit<CheckResult, 'name'>;

/** The platform, as the API shows it (node labels and provider IDs, API groups). */
export interface Platform {
  readonly gkeAutopilot: boolean;
  readonly gke: boolean;
  readonly eks: boolean;
  readonly aks: boolean;
  readonly openshift: boolean;
  readonly rancher: boolean;
  /** For evidence: what each detection was based on. */
  readonly evidence: readonly string[];
}

export interface DiagnoseContext {
  /** Tether's configuration as the checks should assume it (defaults, `--config`, the environment). */
  readonly config: TetherConfig;
  /** Tether's namespace (`-n`). */
  readonly namespace: string;
  /** The cluster agent's service account: `--service-account`, else its Deployment's, else `datadog-cluster-agent`. */
  readonly serviceAccount: string;
  /** Where `webhook-reachable` dry-runs its probe pod (`--probe-namespace`); default `default`, else a namespace the webhook is sent to. */
  readonly probeNamespace?: string;
  /** Read-only access to the API server (plus reviews and dry-run creates). */
  readonly kube: KubeReader;
  /** Detected once per run, shared by the checks (`diagnose/platform.ts`). */
  platform(): Promise<Platform>;
  readonly now: () => Date;
  /** Aborted when the run's time is up. */
  readonly signal: AbortSignal;
}

export interface Check {
  /** Stable, kebab-case: `--check NAME`, JSON `name`. */
  readonly name: string;
  /** What it finds, in one sentence (README, `--list`). */
  readonly finds: string;
  /** The fix in general words (README); a result's `fix` is specific to what was found. */
  readonly fixes: string;
  run(ctx: DiagnoseContext): Promise<CheckOutcome>;
}

export const ok = (summary: string, evidence: readonly string[] = []): CheckOutcome => ({ status: 'ok', summary, evidence, fix: '' });
export const skipped = (why: string): CheckOutcome => ({ status: 'skipped', summary: why, evidence: [], fix: '' });
export const problem = (status: 'warning' | 'error', summary: string, evidence: readonly string[], fix: string): CheckOutcome => ({ status, summary, evidence, fix });
