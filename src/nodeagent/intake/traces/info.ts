/**
 * The trace receiver's answers that tracers read (pure).
 *
 * `/info` (the trace agent's discovery endpoint): tracers read `endpoints` to pick what to use, and
 * only the paths served here are listed, so a tracer never turns on stats computation (`/v0.6/stats`),
 * the EVP proxy or remote configuration against a node agent that would 404 them. `client_drop_p0s`
 * false tells tracers to send every trace (they may drop unsampled ones only when the agent computes
 * stats from what they send, which this receiver does not). `config` carries the fields tracers and
 * people look at.
 *
 * The answer to a trace payload: `{"rate_by_service": {...}}`, the priority-sampling rates tracers
 * apply from then on, computed by `prioritySampler.ts` toward `apm_config.max_traces_per_second` per
 * service and env; `RATE_BY_SERVICE_BODY` (the default key at 1) is the answer before any is computed.
 * `/v0.6/stats`, `/telemetry/proxy`, `/evp_proxy` and `/profiling` are accepted and dropped
 * (`dropped.ts`): not in `endpoints`, so that tracers neither compute stats nor route events for nothing;
 * listed apart in `tether_dropped_endpoints`.
 */

export const TRACE_PATHS = { v03: '/v0.3/traces', v04: '/v0.4/traces', v05: '/v0.5/traces', v07: '/v0.7/traces', info: '/info' } as const;

/** The key tracers look up when no service/env-specific rate is given. */
export const DEFAULT_RATE_KEY = 'service:,env:';

export const RATE_BY_SERVICE_BODY = JSON.stringify({ rate_by_service: { [DEFAULT_RATE_KEY]: 1 } });

export interface InfoFacts {
  readonly version: string;
  readonly receiverPort: number;
  readonly receiverSocket: string;
  readonly maxRequestBytes: number;
  /** Paths accepted and dropped (`dropped.ts`): listed apart, for people, never in `endpoints`. */
  readonly droppedPaths?: readonly string[];
}

export function infoBody(f: InfoFacts): string {
  return JSON.stringify({
    version: f.version,
    git_commit: '',
    endpoints: [TRACE_PATHS.v03, TRACE_PATHS.v04, TRACE_PATHS.v05, TRACE_PATHS.v07],
    client_drop_p0s: false,
    span_meta_structs: false,
    long_running_spans: false,
    feature_flags: [],
    config: {
      default_env: 'none',
      receiver_port: f.receiverPort,
      receiver_socket: f.receiverSocket,
      max_request_bytes: f.maxRequestBytes,
      analyzed_spans_by_service: {},
    },
    ...(f.droppedPaths ? { tether_dropped_endpoints: f.droppedPaths } : {}),
  });
}
