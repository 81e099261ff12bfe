/** Small building blocks shared by the views. */
import type { ComponentChildren } from 'preact';
import { count, stateLabel } from './format.js';

/** A state as a word and a colour (never colour alone: the word is always there). */
export function Badge({ state, children }: { state: string; children?: ComponentChildren }) {
  return <span class={`badge badge-${state}`}>{children ?? stateLabel(state)}</span>;
}

export function Pager({ total, offset, limit, onOffset, label }: { total: number; offset: number; limit: number; onOffset: (o: number) => void; label: string }) {
  if (total <= limit && offset === 0) return <p class="muted pager-summary">{count(total)} {label}</p>;
  const last = Math.min(offset + limit, total);
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        ← Previous
      </button>
      <span aria-live="polite">
        {count(total === 0 ? 0 : offset + 1)}–{count(last)} of {count(total)} {label}
      </span>
      <button type="button" disabled={last >= total} onClick={() => onOffset(offset + limit)}>
        Next →
      </button>
    </nav>
  );
}

export function ErrorNote({ error }: { error: string | undefined }) {
  return error ? (
    <p class="error-note" role="alert">
      {error}
    </p>
  ) : null;
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-busy="true">
      Loading {what}…
    </p>
  );
}

/** A fix to copy: pre-wrapped, selectable. */
export function Fix({ text }: { text: string | undefined }) {
  return text ? (
    <div class="fix">
      <strong>Fix:</strong> <span>{text}</span>
    </div>
  ) : null;
}
