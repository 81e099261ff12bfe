/** `kubectl exec` without kubectl: a command in a running container, through the API server and the kubelet. */
import { PassThrough } from 'node:stream';
import * as k8s from '@kubernetes/client-node';

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code the kubelet reports (0 on Success). */
  readonly code: number;
}

export async function execInPod(kc: k8s.KubeConfig, namespace: string, pod: string, container: string, command: readonly string[], timeoutMs = 60_000): Promise<ExecResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  err.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const status = await new Promise<k8s.V1Status>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exec ${command.join(' ')} in ${namespace}/${pod} did not finish within ${timeoutMs} ms; stdout so far: ${stdout.slice(-2000)}`)), timeoutMs);
    new k8s.Exec(kc)
      .exec(namespace, pod, container, [...command], out, err, null, false, (s) => {
        clearTimeout(timer);
        resolve(s);
      })
      .catch((e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      });
  });
  // The status arrives on its own channel; let the output streams drain first.
  await new Promise((r) => setImmediate(r));
  const exitCause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = status.status === 'Success' ? 0 : Number(exitCause?.message ?? 1);
  return { stdout, stderr, code };
}
