/** `--webhook-url`, checked before anything starts. */
/** The webhook URL must be one the API server accepts in `clientConfig.url`. */
export function checkWebhookUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `not a URL: ${JSON.stringify(url)}`;
  }
  if (u.protocol !== 'https:') return 'the API server only calls webhooks over https://';
  if (u.search || u.hash) return 'a webhook URL may not have a query or a fragment';
  if (u.username || u.password) return 'a webhook URL may not carry user information';
  return undefined;
}
