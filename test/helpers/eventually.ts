/** Retries `fn` until it stops throwing: controllers, watches and RBAC caches are asynchronous. */
export async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${(e as Error).message}`, { cause: e });
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
