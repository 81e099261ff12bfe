/** How the console writes times, durations and the API's enums for people. Pure. */
import type { HealthState, InjectionReason } from '../../src/console/types.js';

/** `3d 4h`, `5h 12m`, `42s`; `expired 2h ago` for a negative duration. */
export function duration(ms: number): string {
  if (ms < 0) return `expired ${duration(-ms)} ago`;
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** `12:04:05` today, else `2024-05-01 12:04`; the full time goes in a tooltip. */
export function time(iso: string | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return d.toDateString() === now.toDateString() ? hms : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms.slice(0, 5)}`;
}

export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${duration(Math.max(0, now - t))} ago`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Why a pod is, or is not, injected, in a few words (the pod's detail gives the full explanation). */
const REASONS: Record<InjectionReason, string> = {
  injected: 'injected',
  'namespace-excluded': 'namespace never mutated',
  'label-false': 'label set to "false"',
  'no-label': 'no opt-in label',
  'label-invalid': 'label value invalid',
  'webhook-disabled': 'config webhook disabled',
  'created-before-webhook': 'created before the webhook',
  'mode-not-allowed': 'mode not allowed here',
  missed: 'missed by the webhook',
};

/** An enum member the page does not know yet (the API's enums may grow) is shown as it is. */
export function reasonText(reason: string): string {
  return (REASONS as Record<string, string>)[reason] ?? reason;
}

/** Reasons that need someone to act (recreate the pod, change the mode), as opposed to choices. */
export function reasonIsProblem(reason: string): boolean {
  return reason === 'created-before-webhook' || reason === 'mode-not-allowed' || reason === 'missed';
}

export function stateLabel(state: HealthState | string): string {
  return { ok: 'OK', warning: 'Warning', error: 'Error', unknown: 'Unknown', failing: 'Failing', skipped: 'Skipped' }[state] ?? state;
}
