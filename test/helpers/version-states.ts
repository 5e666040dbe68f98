import { expect } from 'vitest';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { DeadLetterStore, isDeadLettered } from '../../src/state/dead-letters.js';
import { MarkerStore, isProcessed } from '../../src/state/marker.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

export type VersionState = 'processed' | 'dead-lettered' | 'pending';

/**
 * What a user would find in the bucket for each current raw version: processed (in the marker),
 * dead-lettered (in metadata/dead_letter.json), or pending (neither). Fails the test when a version
 * is in both, or when attempts are still recorded for a version that is settled.
 */
export async function versionStates(store: ObjectStore): Promise<Record<string, VersionState>> {
  const { document: marker } = await new MarkerStore(store).load();
  const { document: dead } = await new DeadLetterStore(store).load();
  const { candidates } = await new PollingDiscovery(store, candidateFilter()).discover();
  const states: Record<string, VersionState> = {};
  for (const c of candidates) {
    const processed = isProcessed(marker, c.key, c.etag);
    const deadLettered = isDeadLettered(dead, c.key, c.etag);
    expect(processed && deadLettered, `${c.key} is both processed and dead-lettered`).toBe(false);
    const settled = processed || deadLettered;
    expect(settled && dead.attempts[c.key]?.etag === c.etag, `${c.key} is settled but still has attempts recorded`).toBe(false);
    states[c.key] = processed ? 'processed' : deadLettered ? 'dead-lettered' : 'pending';
  }
  return states;
}
