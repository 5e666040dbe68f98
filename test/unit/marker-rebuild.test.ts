import { describe, expect, it } from 'vitest';
import { MARKER_KEY, type MarkerDocument, MarkerStore } from '../../src/state/marker.js';
import { deltaKey } from '../../src/state/marker-deltas.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const report = (runId: string, key: string, etag: string, status: 'succeeded' | 'failed', finishedAt: string) => ({
  runId,
  key,
  etag,
  dataset: key.split('/')[1],
  status,
  rows: { read: 3, cleaned: 3, quarantined: 0, curated: 3 },
  outputs: {},
  startedAt: finishedAt,
  finishedAt,
  sparkVersion: '4.0.5',
});

/** A lake whose run reports say what was processed, in both report forms (file, and folder with a part file). */
async function lake() {
  const root = await tempDir();
  const store = new LocalObjectStore(root);
  const { etag: a } = await store.put('raw/orders/a.parquet', 'A v2');
  const { etag: b } = await store.put('raw/orders/b.parquet', 'B');
  await store.put('raw/orders/c.parquet', 'C');
  const put = (runId: string, body: object, folder = false) =>
    store.put(folder ? `metadata/runs/${runId}.json/part-00000-x.txt` : `metadata/runs/${runId}.json`, JSON.stringify(body));
  await put('r1', report('r1', 'raw/orders/a.parquet', '"old etag of a"', 'succeeded', '2026-11-28T10:00:00.000Z'));
  await put('r2', report('r2', 'raw/orders/a.parquet', a, 'succeeded', '2026-11-28T11:00:00.000Z'), true);
  await put('r3', report('r3', 'raw/orders/b.parquet', b, 'succeeded', '2026-11-28T11:30:00.000Z'));
  await put('r4', report('r4', 'raw/orders/b.parquet', b, 'succeeded', '2026-11-28T12:00:00.000Z'));
  await put('r5', report('r5', 'raw/orders/c.parquet', '"c"', 'failed', '2026-11-28T12:00:00.000Z'));
  await store.put('metadata/runs/r6.json', '{"runId": "r6", "key": ');
  const cli = (...args: string[]) => runCli(root, args);
  return { store, a, b, cli };
}

describe('marker rebuild', () => {
  it('rebuilds a corrupt marker from the run reports: the newest success of each current version, the old one kept', async () => {
    const { store, a, b, cli } = await lake();
    await store.put(MARKER_KEY, '{"version": 1, "files": ');
    const result = await cli('marker', 'rebuild');
    expect(result.code, result.err).toBe(0);
    expect(result.out).toContain('run reports: 6 (4 succeeded, 1 unreadable)');
    const { document } = await new MarkerStore(store).load();
    expect(Object.keys(document.files)).toEqual(['raw/orders/a.parquet', 'raw/orders/b.parquet']); // c only failed
    expect(document.files['raw/orders/a.parquet']).toMatchObject({ etag: a, runId: 'r2', size: 4 });
    expect(document.files['raw/orders/b.parquet']).toMatchObject({ etag: b, runId: 'r4', rows: { read: 3, curated: 3 } });
    const backups = (await store.listPage('metadata/')).objects.filter((o) => o.key.startsWith(`${MARKER_KEY}.bak-`));
    expect(backups).toHaveLength(1);
    expect((await store.get(backups[0]?.key ?? ''))?.body.toString()).toBe('{"version": 1, "files": ');
  });

  it('reads batch reports: each succeeded version of a batch run gets its entry, a failed one none', async () => {
    const { store, a, cli } = await lake();
    const { etag: d } = await store.put('raw/orders/d.parquet', 'D');
    const { etag: e } = await store.put('raw/orders/e.parquet', 'E');
    const { key: _k, etag: _e, ...run } = report('r7', '', '', 'succeeded', '2026-11-28T13:00:00.000Z');
    const file = (key: string, etag: string, status: 'succeeded' | 'failed') => ({
      key,
      etag,
      status,
      rows:
        status === 'succeeded'
          ? { read: 5, cleaned: 5, quarantined: 0, curated: 4 }
          : { read: null, cleaned: null, quarantined: null, curated: null },
      outputs: {},
      ...(status === 'failed' ? { error: { kind: 'permanent', type: 'UnreadableInput', message: 'not Parquet' } } : {}),
    });
    await store.put(
      'metadata/runs/r7.json',
      JSON.stringify({
        ...run,
        manifest: 'file:///lake/metadata/batches/r7.json',
        files: [file('raw/orders/d.parquet', d, 'succeeded'), file('raw/orders/e.parquet', e, 'failed')],
      }),
    );
    const result = await cli('marker', 'rebuild', '--force');
    expect(result.code, result.err).toBe(0);
    const { document } = await new MarkerStore(store).load();
    expect(document.files['raw/orders/d.parquet']).toMatchObject({ etag: d, runId: 'r7', rows: { read: 5, curated: 4 } });
    expect(document.files['raw/orders/e.parquet']).toBeUndefined();
    expect(document.files['raw/orders/a.parquet']).toMatchObject({ etag: a, runId: 'r2' });

    const status = await cli('status', '--json');
    const runs = (JSON.parse(status.out) as { runs: Array<Record<string, unknown>> }).runs;
    expect(runs.find((r) => r['runId'] === 'r7')).toMatchObject({ key: 'metadata/batches/r7.json', batch: { versions: 2, failed: 1 } });
  });

  it('leaves a valid marker alone without --force, and says what it would do with --dry-run', async () => {
    const { store, cli } = await lake();
    const valid: MarkerDocument = { version: 1, updatedAt: null, files: {} };
    await store.put(MARKER_KEY, JSON.stringify(valid));
    const dry = await cli('marker', 'rebuild', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('rebuilt marker: 2 processed versions in raw/; current marker: valid, 0 entries');
    const refused = await cli('marker', 'rebuild');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/is valid; pass --force/u);
    expect((await store.get(MARKER_KEY))?.body.toString()).toBe(JSON.stringify(valid));
    const forced = await cli('marker', 'rebuild', '--force');
    expect(forced.code, forced.err).toBe(0);
    expect(Object.keys((await new MarkerStore(store).load()).document.files)).toHaveLength(2);
  });

  it('writes a first marker where there was none, and refuses a muddled command line', async () => {
    const { store, cli } = await lake();
    expect((await cli('marker', 'rebuild')).code).toBe(0);
    expect(Object.keys((await new MarkerStore(store).load()).document.files)).toHaveLength(2);
    expect((await cli('marker')).code).toBe(2);
    expect((await cli('marker', 'rebuild', 'now')).code).toBe(2);
  });

  it('rebuilds a marker whose unfolded update (delta) is corrupt, and the rebuilt one covers the deltas there', async () => {
    const { store, cli } = await lake();
    await store.put(MARKER_KEY, JSON.stringify({ version: 1, updatedAt: null, files: {} }));
    await store.put(deltaKey(1), '{"version": 1, "seq": 1, "files": {"raw/orders/c.parquet": {"etag": "\\"c\\""}}}');
    await store.put(deltaKey(2), '{"version": 1, "seq": 2, "files": ');
    const result = await cli('marker', 'rebuild');
    expect(result.out).toContain('current marker: not a valid marker');
    expect(result.code, result.err).toBe(0);
    const { document } = await new MarkerStore(store).load();
    expect(document.foldedThrough).toBe(2);
    expect(Object.keys(document.files)).toEqual(['raw/orders/a.parquet', 'raw/orders/b.parquet']);
  });
});
