import { afterAll, beforeAll } from 'vitest';
import { S3ObjectStore } from '../../src/storage/s3-store.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';
import { objectStoreConformance } from '../helpers/object-store-conformance.js';

let moto: MotoServer;
let buckets = 0;
beforeAll(async () => {
  moto = await startMotoServer();
});
afterAll(async () => moto?.stop());

async function freshStore(prefix: string): Promise<S3ObjectStore> {
  const bucket = `conformance-${++buckets}`;
  await moto.createBucket(bucket);
  return new S3ObjectStore({ client: moto.s3, bucket, prefix });
}

objectStoreConformance('S3 on moto server', () => freshStore(''));
objectStoreConformance('S3 on moto server, under a prefix', () => freshStore('lakes/team a/'));
