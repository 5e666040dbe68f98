import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../src/controller/reconciler.js';
import { SqsWatcher } from '../../src/controller/sqs-watch-loop.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import type { QueueMessage } from '../../src/discovery/sqs-source.js';
import type { ListOptions, ListPage } from '../../src/storage/object-store.js';
import { recordControllerMetrics, recordSqsMetrics } from '../../src/observability/metric-events.js';
import { WatcherMetrics } from '../../src/observability/metrics.js';
import { Readiness } from '../../src/observability/readiness.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';

/** A local store whose listing fails while `failing`, as an unreachable bucket would. */
class FlakyStore extends LocalObjectStore {
  failing = true;
  override listPage(prefix: string, options?: ListOptions): Promise<ListPage> {
    if (this.failing) return Promise.reject(new Error('connect ECONNREFUSED (test)'));
    return super.listPage(prefix, options);
  }
}

describe('readiness with SQS discovery', () => {
  it('is ready while the consumer polls, and falls back to the pass rule when the queue fails', async () => {
    const store = new LocalObjectStore(await tempDir());
    const reconciler = new Reconciler({
      discovery: new PollingDiscovery(store, candidateFilter()),
      marker: new MarkerStore(store),
      deadLetters: new DeadLetterStore(store),
      engine: new ScriptedEngine(),
    });
    let clock = 0;
    const readiness = new Readiness({ passIntervalMs: 3_600_000, now: () => clock });
    recordControllerMetrics(reconciler, {
      metrics: new WatcherMetrics({ engine: 'local', passIntervalMs: 3_600_000, processMetrics: false }),
      readiness,
      now: () => clock,
    });
    const stop = new AbortController();
    const seen: boolean[] = [];
    // receive #1: an empty long poll; #2: the queue fails; #3: it answers again; then stop
    const steps: Array<() => Promise<QueueMessage[]>> = [
      async () => [],
      async () => {
        seen.push(readiness.check().ready); // after the successful receive
        clock += 4 * 3_600_000; // the start-up full pass is now old
        throw new Error('AccessDenied (test)');
      },
      async () => {
        seen.push(readiness.check().ready); // after the failed receive
        return [];
      },
      async () => {
        seen.push(readiness.check().ready);
        stop.abort();
        return [];
      },
    ];
    const sqs = new SqsWatcher(reconciler, {
      source: {
        receive: () => (steps.shift() ?? (async () => []))(),
        delete: async () => undefined,
        extendVisibility: async () => undefined,
        visibilitySeconds: 60,
      },
      bucket: 'b',
      lakePrefix: '',
      reconcileIntervalMs: Number.MAX_SAFE_INTEGER,
      stopStarting: stop.signal,
      now: () => clock,
      backoff: async () => undefined,
    });
    recordSqsMetrics(sqs, { readiness });
    await sqs.run();
    expect(seen).toEqual([true, false, true]);
  });

  it('is not ready while every pass fails, though the consumer polls; a good pass makes it ready', async () => {
    const store = new FlakyStore(await tempDir());
    const reconciler = new Reconciler({
      discovery: new PollingDiscovery(store, candidateFilter()),
      marker: new MarkerStore(store),
      deadLetters: new DeadLetterStore(store),
      engine: new ScriptedEngine(),
    });
    let clock = 0;
    const interval = 600_000;
    const readiness = new Readiness({ passIntervalMs: interval, now: () => clock });
    recordControllerMetrics(reconciler, {
      metrics: new WatcherMetrics({ engine: 'local', passIntervalMs: interval, processMetrics: false }),
      readiness,
      now: () => clock,
    });
    const stop = new AbortController();
    const seen: Array<{ ready: boolean; reason: string }> = [];
    // the start-up full pass fails (the bucket is unreachable); the queue answers throughout
    const steps: Array<() => Promise<QueueMessage[]>> = [
      async () => [],
      async () => {
        seen.push(readiness.check()); // after a good receive, with the last pass failed
        store.failing = false;
        clock += interval; // the next loop relists
        return [];
      },
      async () => {
        seen.push(readiness.check()); // after the relisting pass succeeded
        stop.abort();
        return [];
      },
    ];
    const sqs = new SqsWatcher(reconciler, {
      source: {
        receive: () => (steps.shift() ?? (async () => []))(),
        delete: async () => undefined,
        extendVisibility: async () => undefined,
        visibilitySeconds: 60,
      },
      bucket: 'b',
      lakePrefix: '',
      reconcileIntervalMs: interval,
      stopStarting: stop.signal,
      now: () => clock,
      backoff: async () => undefined,
    });
    recordSqsMetrics(sqs, { readiness });
    await sqs.run();
    expect(seen).toEqual([
      { ready: false, reason: expect.stringMatching(/^the last pass failed: .*ECONNREFUSED \(test\)/u) },
      { ready: true, reason: 'the SQS consumer is polling' },
    ]);
  });
});
