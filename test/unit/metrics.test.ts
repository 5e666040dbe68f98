import { utimes } from 'node:fs/promises';
import { type Socket, connect } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { recordControllerMetrics } from '../../src/observability/metric-events.js';
import { type MetricsServer, startMetricsServer } from '../../src/observability/metrics-server.js';
import { WatcherMetrics } from '../../src/observability/metrics.js';
import { Readiness } from '../../src/observability/readiness.js';
import { RunningJobs } from '../../src/observability/running-jobs.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import type { ListOptions, ListPage } from '../../src/storage/object-store.js';
import { scrape } from '../helpers/prometheus.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

/** A local store whose listing can be made to fail, as an unreachable bucket would. */
class FlakyStore extends LocalObjectStore {
  failing = false;
  override listPage(prefix: string, options?: ListOptions): Promise<ListPage> {
    if (this.failing) return Promise.reject(new Error('connect ECONNREFUSED (test)'));
    return super.listPage(prefix, options);
  }
}

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup() {
  const root = await tempDir();
  const store = new FlakyStore(root);
  const engine = new ScriptedEngine();
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker: new MarkerStore(store),
    deadLetters: new DeadLetterStore(store),
    engine,
    maxConcurrentJobs: 2,
    retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 1000 },
    sleep: async () => {}, // retries come at once
  });
  let clock = 1_800_000_000_000;
  const now = () => clock;
  const metrics = new WatcherMetrics({ engine: 'local', passIntervalMs: 60_000, processMetrics: false });
  const readiness = new Readiness({ passIntervalMs: 60_000, now });
  const running = new RunningJobs();
  recordControllerMetrics(reconciler, { metrics, readiness, running, now });
  const server = await startMetricsServer({ port: 0, metrics, readiness, running });
  servers.push(server);
  const put = async (key: string, content: string, mtime: number) => {
    await store.put(key, content);
    await utimes(path.join(root, key), mtime, mtime);
  };
  return { store, engine, reconciler, server, put, advance: (ms: number) => (clock += ms), metrics: () => scrape(`${server.url}/metrics`) };
}

const COUNTERS = [
  's3sw_files_discovered_total',
  's3sw_jobs_submitted_total',
  's3sw_jobs_succeeded_total',
  's3sw_jobs_failed_total{kind="permanent"}',
  's3sw_jobs_failed_total{kind="retryable"}',
  's3sw_jobs_retried_total',
  's3sw_files_dead_lettered_total',
];

describe('metrics on /metrics', () => {
  it('listens on 127.0.0.1 and has every counter at zero before anything happened', async () => {
    const { server, metrics } = await setup();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/u);
    const m = await metrics();
    for (const name of COUNTERS) expect(m.get(name), name).toBe(0);
    expect(m.get('s3sw_running_jobs')).toBe(0);
    expect(m.get('s3sw_last_successful_pass_timestamp_seconds')).toBe(0);
    expect(m.get('s3sw_pass_interval_seconds')).toBe(60);
    expect(m.get('s3sw_job_duration_seconds_count{outcome="succeeded"}')).toBe(0);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('s3sw_jobs_submitted_total{engine="local"} 0');
  });

  it('moves the counters by what the passes did: successes, both kinds of failure, a retry, a dead letter', async () => {
    const { engine, reconciler, put, metrics } = await setup();
    await put('raw/orders/ok.parquet', 'A', 1);
    await put('raw/orders/bad.parquet', 'B', 2);
    await put('raw/customers/flaky.parquet', 'C', 3);
    await put('raw/customers/_temporary/x.parquet', 'D', 4); // not a candidate
    engine.script('raw/orders/bad.parquet', 'permanent').script('raw/customers/flaky.parquet', ['retryable', 'succeed']);
    await reconciler.runPass();
    let m = await metrics();
    expect(m.get('s3sw_files_discovered_total')).toBe(3);
    expect(m.get('s3sw_jobs_submitted_total')).toBe(4); // flaky ran twice
    expect(m.get('s3sw_jobs_retried_total')).toBe(1);
    expect(m.get('s3sw_jobs_succeeded_total')).toBe(2);
    expect(m.get('s3sw_jobs_failed_total{kind="permanent"}')).toBe(1);
    expect(m.get('s3sw_jobs_failed_total{kind="retryable"}')).toBe(1);
    expect(m.get('s3sw_files_dead_lettered_total')).toBe(1); // bad, at once
    expect(m.get('s3sw_pending_versions')).toBe(0);
    expect(m.get('s3sw_marker_entries')).toBe(2);
    expect(m.get('s3sw_running_jobs')).toBe(0);
    expect(m.get('s3sw_job_duration_seconds_count{outcome="succeeded"}')).toBe(2);
    expect(m.get('s3sw_job_duration_seconds_count{outcome="failed"}')).toBe(2);
    expect(m.get('s3sw_pass_duration_seconds_count{outcome="succeeded",scope="full"}')).toBe(1);
    expect(m.get('s3sw_last_successful_pass_timestamp_seconds')).toBe(1_800_000_000);

    await reconciler.runPass();
    m = await metrics();
    // nothing is discovered or submitted twice; the dead-lettered one is passed over
    expect(m.get('s3sw_files_discovered_total')).toBe(3);
    expect(m.get('s3sw_jobs_submitted_total')).toBe(4);
    expect(m.get('s3sw_files_dead_lettered_total')).toBe(1);

    await put('raw/orders/ok.parquet', 'A, version 2', 5);
    await reconciler.runPass();
    m = await metrics();
    expect(m.get('s3sw_files_discovered_total')).toBe(4); // a new ETag is a new version
    expect(m.get('s3sw_marker_entries')).toBe(2); // ... of a key the marker already has
  });

  it('shows a job while it runs, on /metrics and /jobs', async () => {
    const { engine, reconciler, put, server, metrics } = await setup();
    await put('raw/orders/slow.parquet', 'S', 1);
    engine.script('raw/orders/slow.parquet', 'hold');
    const pass = reconciler.runPass();
    await engine.started(1);
    expect((await metrics()).get('s3sw_running_jobs')).toBe(1);
    const jobs = (await (await fetch(`${server.url}/jobs`)).json()) as { running: { key: string; runId: string; dataset: string }[] };
    expect(jobs.running).toEqual([expect.objectContaining({ key: 'raw/orders/slow.parquet', dataset: 'orders' })]);
    expect(jobs.running[0]?.runId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{12}$/u);
    engine.release('raw/orders/slow.parquet');
    await pass;
    expect((await metrics()).get('s3sw_running_jobs')).toBe(0);
    expect(((await (await fetch(`${server.url}/jobs`)).json()) as { running: unknown[] }).running).toEqual([]);
  });
});

describe('/healthz and /readyz', () => {
  it('is alive from the start; ready after a good pass, unready when passes fail, ready again after', async () => {
    const { store, reconciler, server, advance, metrics } = await setup();
    const ready = async () => {
      const res = await fetch(`${server.url}/readyz`);
      return { status: res.status, ...((await res.json()) as { ready: boolean; reason: string }) };
    };
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await ready()).toMatchObject({ status: 503, ready: false, reason: 'no pass has finished yet' });

    await reconciler.runPass();
    expect(await ready()).toMatchObject({ status: 200, ready: true });

    store.failing = true;
    await expect(reconciler.runPass()).rejects.toThrow(/ECONNREFUSED/u);
    expect(await ready()).toMatchObject({ status: 503, reason: expect.stringContaining('ECONNREFUSED') });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await metrics()).get('s3sw_pass_duration_seconds_count{outcome="failed",scope="full"}')).toBe(1);

    store.failing = false;
    await reconciler.runPass();
    expect(await ready()).toMatchObject({ status: 200 });

    advance(3 * 60_000 + 1000); // no pass for more than 3 intervals
    expect(await ready()).toMatchObject({ status: 503, reason: expect.stringMatching(/181 s ago/u) });
  });

  it('stays ready while a long pass runs its jobs', async () => {
    const { engine, reconciler, put, server, advance } = await setup();
    await put('raw/orders/slow.parquet', 'S', 1);
    engine.script('raw/orders/slow.parquet', 'hold');
    const pass = reconciler.runPass();
    await engine.started(1);
    advance(10 * 60_000);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    engine.release('raw/orders/slow.parquet');
    await pass;
  });

  it('serves a bounded number of connections at once, and the next after one closes', async () => {
    const metrics = new WatcherMetrics({ engine: 'local', passIntervalMs: 60_000, processMetrics: false });
    const readiness = new Readiness({ passIntervalMs: 60_000 });
    const server = await startMetricsServer({ port: 0, metrics, readiness, running: new RunningJobs(), maxConnections: 2 });
    servers.push(server);
    const { port } = new URL(server.url);
    const idle = await Promise.all([1, 2].map(() => openSocket(Number(port))));
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    idle[0]?.destroy();
    await until(async () => (await fetch(`${server.url}/healthz`).catch(() => undefined))?.status === 200, 'a freed slot serves');
    idle[1]?.destroy();
  });

  it('answers 404 elsewhere', async () => {
    const { server } = await setup();
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });
});

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}
