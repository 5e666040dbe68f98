import { describe, expect, it } from 'vitest';
import { candidateFilter, datasetOf, globToRegExp } from '../../src/discovery/candidates.js';

const obj = (key: string, size = 100) => ({ key, size, etag: '"e"', lastModified: new Date(0) });

describe('candidates', () => {
  const isCandidate = candidateFilter();
  it('takes Parquet files under raw/, any case', () => {
    expect(isCandidate(obj('raw/orders/2026/a.parquet'))).toBeUndefined();
    expect(isCandidate(obj('raw/orders/B.PARQUET'))).toBeUndefined();
    expect(isCandidate(obj('raw/top.parquet'))).toBeUndefined();
  });

  it('skips folder markers, temporary and hidden paths and other files', () => {
    expect(isCandidate(obj('raw/orders/', 0))).toBe('folder-marker');
    expect(isCandidate(obj('raw/orders/_temporary/0/part.parquet'))).toBe('hidden-or-temporary');
    expect(isCandidate(obj('raw/orders/_SUCCESS'))).toBe('hidden-or-temporary');
    expect(isCandidate(obj('raw/orders/.upload.parquet'))).toBe('hidden-or-temporary');
    expect(isCandidate(obj('raw/.tmp/a.parquet'))).toBe('hidden-or-temporary');
    expect(isCandidate(obj('raw/orders/a.csv'))).toBe('not-matching');
    expect(isCandidate(obj('raw/orders/a.parquet.tmp'))).toBe('not-matching');
  });

  it('takes a zero-byte Parquet key and "." or ".." segments too (the reconciler dead-letters them by name)', () => {
    expect(isCandidate(obj('raw/orders/a.parquet', 0))).toBeUndefined();
    expect(isCandidate(obj('raw/orders/../../x.parquet'))).toBeUndefined();
    expect(isCandidate(obj('raw/./x.parquet'))).toBeUndefined();
  });

  it('takes a configurable glob', () => {
    const onlyOrders = candidateFilter('orders/**/*.{parquet,pq}');
    expect(onlyOrders(obj('raw/orders/x/y.pq'))).toBeUndefined();
    expect(onlyOrders(obj('raw/orders/y.parquet'))).toBeUndefined();
    expect(onlyOrders(obj('raw/customers/y.parquet'))).toBe('not-matching');
    expect(globToRegExp('*.parquet').test('a/b.parquet')).toBe(false);
  });

  it('names the dataset by the first folder under raw/, else default', () => {
    expect(datasetOf('raw/orders/2026/a.parquet')).toBe('orders');
    expect(datasetOf('raw/a.parquet')).toBe('default');
  });
});
