/**
 * API calls that can be given up on: every call `kube/` makes to the API server takes an AbortSignal,
 * because a server that accepts the connection and never answers must not hold a caller (a review, a
 * Lease renewal, a shutdown) past its deadline. The waiting side (deadlines, not waiting for a call
 * that ignores its signal) is in `kube/deadline.ts`.
 */
import * as k8s from '@kubernetes/client-node';

/**
 * Per-call options that hand `signal` to the HTTP request, so aborting it closes the connection instead
 * of leaving the call running. client-node 1.x's object-parameter APIs take observable middleware
 * (`ObservableMiddleware`; a promise-returning one fails there), appended to the configuration's own.
 */
export function abortableCall(signal: AbortSignal): k8s.ConfigurationOptions {
  const middleware: k8s.ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(signal);
      return new k8s.Observable(Promise.resolve(ctx));
    },
    post: (rsp) => new k8s.Observable(Promise.resolve(rsp)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}
