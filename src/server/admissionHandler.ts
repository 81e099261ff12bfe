/**
 * One AdmissionReview, from the body's bytes to the answer's, without a socket (SPEC §6): parse once,
 * validate at the boundary, resolve outside facts, let the pure core mutate, encode. Everything after a
 * successful decode fails open: the pod must still be created when Tether has a problem.
 */
import {
  asPod,
  decodeAdmissionReview,
  describePod,
  encodeAdmissionResponse,
  InvalidObject,
  isPodCreate,
  MalformedReview,
  mutateInOrder,
  neededFactsOf,
  type AdmissionRequest,
  type Decision,
  type WebhookEntry,
} from '../admission/index.js';
import { DEFAULT_NAMESPACE, type TetherConfig } from '../config/index.js';
import { logDecisions } from '../logging/decisions.js';
import type { Logger } from '../logging/logger.js';
import { factsBudgetMs, resolveFacts, waitsForFacts, type FactResolver, type ResolvedFacts } from './facts.js';
import type { AdmissionOutcome } from './metrics.js';

export interface AdmissionDeps {
  readonly config: TetherConfig;
  readonly tetherNamespace: string;
  readonly logger: Logger;
  readonly facts?: FactResolver;
  /**
   * A signal aborted when the client goes away, so that the review stops waiting for facts. Asked for
   * only by reviews that do wait for facts: an AbortController per review costs about 2% of the server's
   * CPU, for nothing in the reviews that need none.
   */
  readonly clientGone?: () => AbortSignal;
  /** Overrides the budget derived from `timeout_seconds` (tests). */
  readonly factsBudgetMs?: number;
}

export interface AdmissionReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly outcome: AdmissionOutcome;
  /** Things injected, for `tether_admission_mutations_total`. */
  readonly injections: number;
}

const JSON_TYPE = 'application/json';
const NO_FACTS: ResolvedFacts = { problems: [] };
const TEXT_TYPE = 'text/plain; charset=utf-8';

/** A 400: the body is not an AdmissionReview we can answer. The message says what is wrong. */
function badRequest(message: string): AdmissionReply {
  return { status: 400, contentType: TEXT_TYPE, body: message + '\n', outcome: 'rejected', injections: 0 };
}

function answered(body: string, outcome: AdmissionOutcome, injections = 0): AdmissionReply {
  return { status: 200, contentType: JSON_TYPE, body, outcome, injections };
}

/**
 * How a decision flagged as a warning reads in `kubectl`'s "Warning: ..." lines. Short: the API server
 * truncates long warnings, and the detail is what matters.
 */
export function renderWarning(d: Decision): string {
  const container = d.container ? ` in container ${d.container}` : '';
  const action = d.what === 'pod' ? '' : `${d.outcome === 'injected' ? 'injected' : 'did not inject'} ${d.what}${container}: `;
  return `tether ${d.webhook}: ${action}${d.detail ?? ''}`;
}

function describeRequest(req: AdmissionRequest): string {
  const sub = req.subResource ? `/${req.subResource}` : '';
  const kind = req.kind.group ? `${req.kind.kind}.${req.kind.group}` : req.kind.kind;
  return `${req.operation} of ${kind}${sub} (resource ${req.resource.resource})`;
}

/** One review for one entry: its webhooks run in order on the pod, and their patches go back as one. */
export async function handleAdmission(rawBody: Buffer, entry: WebhookEntry, deps: AdmissionDeps): Promise<AdmissionReply> {
  const log = deps.logger;
  const kind = entry.id;
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody.toString('utf8'));
  } catch (e) {
    log.info({ webhook: kind, bytes: rawBody.length }, 'rejected an admission request whose body is not valid JSON');
    return badRequest(`invalid JSON in the request body: ${(e as Error).message}`);
  }
  let review;
  try {
    review = decodeAdmissionReview(parsed);
  } catch (e) {
    if (!(e instanceof MalformedReview)) throw e;
    log.info({ webhook: kind, problem: e.message }, 'rejected a malformed AdmissionReview');
    return badRequest(`malformed AdmissionReview: ${e.message}`);
  }
  const { version, request } = review;
  const meta = { webhook: kind, uid: request.uid, dryRun: request.dryRun === true };

  try {
    if (!isPodCreate(request)) {
      const message = `Tether's ${kind} webhook only mutates pods being created; ${describeRequest(request)} left unchanged`;
      log.debug({ ...meta, operation: request.operation }, message);
      return answered(encodeAdmissionResponse(version, request.uid, { message }), 'skipped');
    }

    let pod;
    try {
      pod = asPod(request.object, 'request.object');
    } catch (e) {
      if (!(e instanceof InvalidObject)) throw e;
      const message = `Tether could not read the pod, so it was not mutated: ${e.message}`;
      log.warn({ ...meta, problem: e.message }, message);
      return answered(encodeAdmissionResponse(version, request.uid, { message }), 'error');
    }

    const namespace = request.namespace || pod.metadata?.namespace || DEFAULT_NAMESPACE;
    const base = { config: deps.config, namespace, tetherNamespace: deps.tetherNamespace };
    const budget = deps.factsBudgetMs ?? factsBudgetMs(deps.config['admission_controller.timeout_seconds']);
    const needed = neededFactsOf(entry.kinds, pod, base);
    const facts = waitsForFacts(needed, deps.facts) ? await resolveFacts(needed, namespace, deps.facts, budget, deps.clientGone?.()) : NO_FACTS;
    if (facts.problems.length > 0) log.warn({ ...meta, namespace, problems: facts.problems.map((p) => p.message) }, 'could not resolve every fact the webhook needs');

    const result = mutateInOrder(
      entry.kinds,
      pod,
      {
        ...base,
        ...(facts.owner ? { owner: facts.owner } : {}),
        ...(facts.namespaceLabels ? { namespaceLabels: facts.namespaceLabels } : {}),
      },
      false,
    );
    const podName = describePod(pod, namespace);
    logDecisions(log, podName, result.decisions);

    const warnings = result.decisions.filter((d) => d.warning).map(renderWarning);
    // A missing namespace label is not a decision of the core, but changes its result: say so.
    if (facts.problems.some((p) => p.fact === 'namespaceLabels')) {
      warnings.push(`tether ${kind}: could not read the labels of namespace ${namespace}; init containers get no Pod Security default`);
    }
    const selected = result.decisions.some((d) => d.what === 'pod' && d.outcome === 'selected');
    const outcome: AdmissionOutcome = result.patch.length > 0 ? 'mutated' : selected ? 'unchanged' : 'skipped';
    const injections = result.decisions.filter((d) => d.outcome === 'injected').length;
    log.debug({ ...meta, namespace, outcome, operations: result.patch.length }, `answered ${podName}: ${outcome}`);
    return answered(encodeAdmissionResponse(version, request.uid, { patch: result.patch, warnings }), outcome, injections);
  } catch (e) {
    // Fail open: a bug or an unexpected object in Tether must not stop pods from being created.
    const reason = e instanceof Error ? e.message : String(e);
    log.error({ ...meta, err: e }, `admission request failed; allowing it unchanged: ${reason}`);
    const message = `Tether could not run its ${kind} webhook, the pod was not mutated: ${reason}`;
    return answered(encodeAdmissionResponse(version, request.uid, { message }), 'error');
  }
}
