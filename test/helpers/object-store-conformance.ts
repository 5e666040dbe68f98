import { describe, expect, it } from 'vitest';
import { PreconditionFailedError, UnsafeKeyError } from '../../src/errors.js';
import { listAll, type ObjectStore } from '../../src/storage/object-store.js';

/**
 * The behaviour every ObjectStore must have, S3's. Each store's test file calls this with a
 * factory that gives a fresh, empty store.
 */
export function objectStoreConformance(name: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    it('puts, heads, gets and deletes, with a quoted MD5 ETag', async () => {
      const store = await makeStore();
      const { etag } = await store.put('raw/a/b.txt', 'hello');
      expect(etag).toBe('"5d41402abc4b2a76b9719d911017c592"');
      expect(await store.head('raw/a/b.txt')).toMatchObject({ key: 'raw/a/b.txt', size: 5, etag });
      const got = await store.get('raw/a/b.txt');
      expect(got?.body.toString()).toBe('hello');
      expect(got?.etag).toBe(etag);
      await store.delete('raw/a/b.txt');
      expect(await store.head('raw/a/b.txt')).toBeUndefined();
      expect(await store.get('raw/a/b.txt')).toBeUndefined();
      await store.delete('raw/a/b.txt'); // deleting a missing key is fine
    });

    it('replaces an object whole, and the ETag follows the content', async () => {
      const store = await makeStore();
      const first = await store.put('k', 'one');
      const second = await store.put('k', 'two');
      expect(second.etag).not.toBe(first.etag);
      expect((await store.get('k'))?.body.toString()).toBe('two');
    });

    it('honours If-None-Match: * and If-Match', async () => {
      const store = await makeStore();
      const created = await store.put('m.json', '{}', { ifNoneMatch: '*' });
      await expect(store.put('m.json', '{"x":1}', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
      const updated = await store.put('m.json', '{"x":2}', { ifMatch: created.etag });
      await expect(store.put('m.json', '{"x":3}', { ifMatch: created.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
      expect((await store.get('m.json'))?.etag).toBe(updated.etag);
      await expect(store.put('absent.json', '{}', { ifMatch: created.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    });

    it('lets exactly one of many concurrent conditional writers win', async () => {
      const store = await makeStore();
      const { etag } = await store.put('c', '0');
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put('c', String(i + 1), { ifMatch: etag })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(
        results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof PreconditionFailedError),
      ).toBe(true);
    });

    it('lists a prefix in UTF-8 byte order, page by page', async () => {
      const store = await makeStore();
      const keys = ['raw/b.parquet', 'raw/a/2.parquet', 'raw/a/10.parquet', 'raw/é.parquet', 'raw/Z.parquet', 'other/x'];
      for (const k of keys) await store.put(k, k);
      const first = await store.listPage('raw/', { pageSize: 2 });
      expect(first.objects.map((o) => o.key)).toEqual(['raw/Z.parquet', 'raw/a/10.parquet']);
      expect(first.nextToken).toBeDefined();
      const all: string[] = [];
      for await (const o of listAll(store, 'raw/', { pageSize: 2 })) all.push(o.key);
      expect(all).toEqual(['raw/Z.parquet', 'raw/a/10.parquet', 'raw/a/2.parquet', 'raw/b.parquet', 'raw/é.parquet']);
      const last = await store.listPage('raw/', { pageSize: 10 });
      expect(last.nextToken).toBeUndefined();
      expect((await store.listPage('nothing/')).objects).toEqual([]);
      const after: string[] = [];
      for await (const o of listAll(store, 'raw/', { pageSize: 2, startAfter: 'raw/a/10.parquet' })) after.push(o.key);
      expect(after).toEqual(['raw/a/2.parquet', 'raw/b.parquet', 'raw/é.parquet']);
    });

    it('lists only the keys `only` accepts, judging each key once over all pages', async () => {
      const store = await makeStore();
      const keys = ['raw/a.csv', 'raw/b.parquet', 'raw/c.csv', 'raw/d.parquet', 'raw/e.csv', 'raw/f.csv', 'raw/g.parquet'];
      for (const k of keys) await store.put(k, k);
      const judged: string[] = [];
      const only = (key: string) => {
        judged.push(key);
        return key.endsWith('.parquet');
      };
      const listed: string[] = [];
      for await (const o of listAll(store, 'raw/', { pageSize: 2, only })) listed.push(o.key);
      expect(listed).toEqual(['raw/b.parquet', 'raw/d.parquet', 'raw/g.parquet']);
      expect(judged).toEqual(keys);
    });

    it('refuses keys that could escape the lake root', async () => {
      const store = await makeStore();
      for (const key of [
        '../outside',
        'raw/../../etc/passwd',
        '/etc/passwd',
        'raw/a\u0000b',
        'raw//x',
        'raw/./x',
        'a\\b',
        '',
        'x'.repeat(1025),
      ]) {
        await expect(store.put(key, 'x'), key).rejects.toBeInstanceOf(UnsafeKeyError);
        await expect(store.get(key), key).rejects.toBeInstanceOf(UnsafeKeyError);
      }
    });

    it('stores keys with spaces, plus signs, quotes and unicode as they are', async () => {
      const store = await makeStore();
      const key = `raw/ds/my file+v2 "quoted" ünï.parquet`;
      await store.put(key, 'data');
      expect((await store.listPage('raw/ds/')).objects.map((o) => o.key)).toEqual([key]);
      expect((await store.get(key))?.body.toString()).toBe('data');
    });
  });
}
