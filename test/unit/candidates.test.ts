import { describe, expect, it } from 'vitest';
import { candidateFilter, datasetOf, globToRegExp } from '../../src/discovery/candidates.js';

describe('candidates', () => {
  const isCandidate = candidateFilter();
  it('takes Parquet files under raw/, any case', () => {
    expect(isCandidate('raw/orders/2026/a.parquet')).toBeUndefined();
    expect(isCandidate('raw/orders/B.PARQUET')).toBeUndefined();
    expect(isCandidate('raw/top.parquet')).toBeUndefined();
  });

  it('skips folder markers, temporary and hidden paths and other files', () => {
    expect(isCandidate('raw/orders/')).toBe('folder-marker');
    expect(isCandidate('raw/orders/_temporary/0/part.parquet')).toBe('hidden-or-temporary');
    expect(isCandidate('raw/orders/_SUCCESS')).toBe('hidden-or-temporary');
    expect(isCandidate('raw/orders/.upload.parquet')).toBe('hidden-or-temporary');
    expect(isCandidate('raw/.tmp/a.parquet')).toBe('hidden-or-temporary');
    expect(isCandidate('raw/orders/a.csv')).toBe('not-matching');
    expect(isCandidate('raw/orders/a.parquet.tmp')).toBe('not-matching');
  });

  it('takes a zero-byte Parquet key and "." or ".." segments too (the reconciler dead-letters them by name)', () => {
    expect(isCandidate('raw/orders/a.parquet')).toBeUndefined();
    expect(isCandidate('raw/orders/../../x.parquet')).toBeUndefined();
    expect(isCandidate('raw/./x.parquet')).toBeUndefined();
  });

  it('takes a configurable glob', () => {
    const onlyOrders = candidateFilter('orders/**/*.{parquet,pq}');
    expect(onlyOrders('raw/orders/x/y.pq')).toBeUndefined();
    expect(onlyOrders('raw/orders/y.parquet')).toBeUndefined();
    expect(onlyOrders('raw/customers/y.parquet')).toBe('not-matching');
    expect(globToRegExp('*.parquet').test('a/b.parquet')).toBe(false);
  });

  it('names the dataset by the first folder under raw/, else default', () => {
    expect(datasetOf('raw/orders/2026/a.parquet')).toBe('orders');
    expect(datasetOf('raw/a.parquet')).toBe('default');
  });
});
