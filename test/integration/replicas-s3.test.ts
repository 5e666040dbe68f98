import { afterAll, beforeAll } from 'vitest';
import { S3ObjectStore } from '../../src/storage/s3-store.js';
import { claimStoreConformance, replicaScenarios } from '../helpers/claim-store-conformance.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';

// The claims rely on S3's conditional writes (If-None-Match: *, If-Match): checked on a real S3 API (moto server).
let moto: MotoServer;
let buckets = 0;
beforeAll(async () => {
  moto = await startMotoServer();
});
afterAll(async () => moto?.stop());

async function freshLake(): Promise<S3ObjectStore> {
  const bucket = `replicas-${++buckets}`;
  await moto.createBucket(bucket);
  return new S3ObjectStore({ client: moto.s3, bucket, prefix: 'lake/' });
}

claimStoreConformance('S3 on moto server', freshLake);
replicaScenarios('S3 on moto server', freshLake);
