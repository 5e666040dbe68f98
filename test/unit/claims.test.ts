import { describe, expect, it } from 'vitest';
import { CLAIMS_PREFIX, ClaimStore } from '../../src/state/claims.js';
import { assertSafeKey } from '../../src/storage/keys.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { claimStoreConformance, replicaScenarios } from '../helpers/claim-store-conformance.js';
import { tempDir } from '../helpers/temp-dir.js';

const localLake = async () => new LocalObjectStore(await tempDir());

claimStoreConformance('local folder', localLake);
replicaScenarios('local folder', localLake);
describe('claim keys', () => {
  it('keep every dataset name inside metadata/claims/, as one segment', () => {
    for (const dataset of ['orders', 'default', '..', '.', 'a/b', '../../etc', 'é spaces %2F']) {
      const key = ClaimStore.keyFor(dataset);
      expect(assertSafeKey(key)).toBe(key);
      expect(key.startsWith(CLAIMS_PREFIX)).toBe(true);
      expect(key.slice(CLAIMS_PREFIX.length)).not.toContain('/');
      expect(key.slice(CLAIMS_PREFIX.length)).not.toMatch(/^\.\.?\.json$|^\.\./u);
    }
    expect(ClaimStore.keyFor('a/b')).not.toBe(ClaimStore.keyFor('a%2Fb'));
  });
});
