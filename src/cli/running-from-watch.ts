import type { MetricsSettings } from '../config/config.js';
import type { RunningJob } from '../observability/running-jobs.js';

/** Running jobs as the watch process sees them, or why they are unknown. */
export type RunningView = { readonly source: string; readonly jobs: readonly RunningJob[] } | { readonly unknown: string };

/**
 * A separate `status` process cannot see another process's jobs; the watch process lists them on
 * its metrics server (`/jobs`). Asked with a short timeout; when it is not configured, not
 * reachable or on a random port, running is reported as unknown, never as 0.
 */
export async function runningFromWatch(
  settings: MetricsSettings | undefined,
  fetchFn: typeof fetch = fetch,
  timeoutMs = 2000,
): Promise<RunningView> {
  if (settings === undefined) return { unknown: 'METRICS_PORT is not set, so the watch process cannot be asked' };
  if (settings.port === 0) return { unknown: 'METRICS_PORT=0: the watch process listens on a port only its log names' };
  const host = settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${settings.port}/jobs`;
  try {
    const res = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { unknown: `${url} answered ${res.status}` };
    const body = (await res.json()) as { running?: RunningJob[] };
    return { source: url, jobs: Array.isArray(body.running) ? body.running : [] };
  } catch (error) {
    return { unknown: `no watch process answered at ${url} (${(error as Error).message})` };
  }
}
