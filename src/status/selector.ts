/**
 * Label selectors and webhook rules printed the way the seeds' `agent status` prints them: Go's
 * generated `String()` of `metav1.LabelSelector` and `%v` of string slices. Users compare this output
 * with the seed's word for word, so the form is kept exactly, quirks included (`APIGroups: []` for the
 * core group `[""]`, map keys sorted by bytes, a trailing comma after every field).
 */

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/** Go's `fmt.Sprintf("%v", []string{...})`: `[a b]`; the empty string prints as nothing, so `[""]` is `[]`. */
export const goSlice = (values: readonly string[] | undefined): string => `[${(values ?? []).join(' ')}]`;

/** Go sorts map keys by bytes (not by locale): compare UTF-8 encodings. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** `metav1.LabelSelector.String()`; a missing selector prints as Go's nil pointer does. */
export function formatLabelSelector(selector: LabelSelector | undefined | null): string {
  if (!selector) return 'nil';
  const labels = selector.matchLabels ?? {};
  const map = Object.keys(labels)
    .sort(byBytes)
    .map((k) => `${k}: ${labels[k]},`)
    .join('');
  const expressions = (selector.matchExpressions ?? [])
    .map((e) => `LabelSelectorRequirement{Key:${e.key},Operator:${e.operator},Values:${goSlice(e.values)},},`)
    .join('');
  return `&LabelSelector{MatchLabels:map[string]string{${map}},MatchExpressions:[]LabelSelectorRequirement{${expressions}},}`;
}
