/**
 * Label selectors (metav1.LabelSelector) evaluated as the API server evaluates them, for checks that
 * must know which objects a selector picks (a NetworkPolicy's podSelector, a webhook's objectSelector)
 * without asking the server to list with it. Pure.
 */

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[] | null;
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>> | null;
  readonly matchExpressions?: readonly LabelSelectorRequirement[] | null;
}

export type Labels = Readonly<Record<string, string>>;

function requirementMatches(r: LabelSelectorRequirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, r.key);
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(labels[r.key]!);
    // NotIn and DoesNotExist match objects without the label at all, as in Kubernetes.
    case 'NotIn':
      return !has || !values.includes(labels[r.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      // The API server refuses other operators; a selector that cannot be understood selects nothing.
      return false;
  }
}

/**
 * Whether `selector` selects an object with `labels`. Every matchLabels pair and every expression must
 * hold. An empty selector (`{}`) selects everything; an absent one (undefined, null) selects nothing,
 * as `metav1.LabelSelectorAsSelector` has it.
 */
export function selectorMatches(selector: LabelSelector | undefined | null, labels: Labels): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  return (selector.matchExpressions ?? []).every((r) => requirementMatches(r, labels));
}

/** `kubectl`'s way of writing a selector (`app=x,tier in (a,b),!legacy`), for evidence; `<all>` when empty. */
export function describeSelector(selector: LabelSelector | undefined | null): string {
  if (!selector) return '<none>';
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions ?? []) {
    const values = (r.values ?? []).join(',');
    if (r.operator === 'In') parts.push(`${r.key} in (${values})`);
    else if (r.operator === 'NotIn') parts.push(`${r.key} notin (${values})`);
    else if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator} (${values})`);
  }
  return parts.length === 0 ? '<all>' : parts.join(',');
}

/** `{a: 'b', c: 'd'}` as `a=b,c=d`, for evidence. */
export function describeLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? '<none>' : parts.join(',');
}
