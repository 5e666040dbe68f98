import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import type { JobRequest } from '../../src/engines/engine.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { ScriptedEngine, succeededReport } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';

/** An engine that, like EMR Serverless after a restart, finishes an earlier run of the version instead of a new one. */
class ReattachingEngine extends ScriptedEngine {
  override async submit(job: JobRequest) {
    return { ...succeededReport(job), runId: 'earlier-run' };
  }
}

describe('a reconcile pass with an engine that re-attached to an earlier run', () => {
  it("records the version with the earlier run's id; a report for another version is still refused", async () => {
    const store = new LocalObjectStore(await tempDir());
    const marker = new MarkerStore(store);
    const engine = new ReattachingEngine();
    const reconciler = new Reconciler({
      discovery: new PollingDiscovery(store, candidateFilter()),
      marker,
      deadLetters: new DeadLetterStore(store),
      engine,
      maxConcurrentJobs: 1,
      retry: { maxAttempts: 1, baseDelayMs: 1000, maxDelayMs: 1000 },
    });
    await store.put('raw/orders/a.parquet', 'A');
    expect(await reconciler.runPass()).toMatchObject({ processed: 1, failed: 0 });
    expect((await marker.load()).document.files['raw/orders/a.parquet']?.runId).toBe('earlier-run');

    engine.submit = async (job: JobRequest) => ({ ...succeededReport(job), etag: '"another version"' });
    await store.put('raw/orders/b.parquet', 'B');
    expect(await reconciler.runPass()).toMatchObject({ processed: 0, failed: 1, deadLettered: 1 }); // one attempt allowed here
  });
});
