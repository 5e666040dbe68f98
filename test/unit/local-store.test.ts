import { mkdir, open, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { UnsafeKeyError } from '../../src/errors.js';
import { LOCAL_STORE_WORK_DIR, LocalObjectStore } from '../../src/storage/local-store.js';
import { objectStoreConformance } from '../helpers/object-store-conformance.js';
import { tempDir } from '../helpers/temp-dir.js';

objectStoreConformance('local folder', async () => new LocalObjectStore(await tempDir()));

describe('LocalObjectStore specifics', () => {
  it('writes through a temp file and leaves no temp files behind or in listings', async () => {
    const root = await tempDir();
    const store = new LocalObjectStore(root);
    await store.put('metadata/processed_files.json', '{}', { ifNoneMatch: '*' });
    expect(await readdir(path.join(root, LOCAL_STORE_WORK_DIR))).toEqual([]);
    expect((await store.listPage('')).objects.map((o) => o.key)).toEqual(['metadata/processed_files.json']);
  });

  it('sees files written by other programs, with their content ETag', async () => {
    const root = await tempDir();
    const store = new LocalObjectStore(root);
    await store.put('raw/x.parquet', 'v1');
    await writeFile(path.join(root, 'raw', 'x.parquet'), 'v2 is longer');
    expect((await store.head('raw/x.parquet'))?.etag).toBe((await store.get('raw/x.parquet'))?.etag);
    expect((await store.head('raw/x.parquet'))?.size).toBe('v2 is longer'.length);
  });

  it('lists a file over 2 GiB with its content ETag (a whole-file read cannot hold it)', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'raw/big'), { recursive: true });
    const file = path.join(root, 'raw/big/huge.parquet');
    const handle = await open(file, 'w');
    await handle.truncate(2 ** 31 + 1); // sparse: no disk space, still 2 GiB + 1 byte to hash
    await handle.close();
    const { objects } = await new LocalObjectStore(root).listPage('raw/');
    const md5sum = (await execa('md5sum', [file])).stdout.split(' ')[0]; // another implementation
    expect(objects).toEqual([expect.objectContaining({ key: 'raw/big/huge.parquet', size: 2 ** 31 + 1, etag: `"${md5sum}"` })]);
  }, 60_000);

  it('creates a lake folder that does not exist yet on the first write', async () => {
    const root = path.join(await tempDir(), 'new', 'lake');
    const store = new LocalObjectStore(root);
    await store.put('raw/orders/a.parquet', 'x');
    expect((await store.get('raw/orders/a.parquet'))?.body.toString()).toBe('x');
  });

  it('does not follow symbolic links out of the lake', async () => {
    const root = await tempDir();
    const outside = await tempDir();
    await writeFile(path.join(outside, 'secret.parquet'), 'secret');
    const store = new LocalObjectStore(root);
    await store.put('raw/ok.parquet', 'ok');
    await symlink(outside, path.join(root, 'raw', 'link'));
    expect((await store.listPage('raw/')).objects.map((o) => o.key)).toEqual(['raw/ok.parquet']);
    await expect(store.get('raw/link/secret.parquet')).rejects.toBeInstanceOf(UnsafeKeyError);
    await expect(store.put('raw/link/new.parquet', 'x')).rejects.toBeInstanceOf(UnsafeKeyError);
  });
});
