import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunHistoryUpkeep } from '../../src/controller/run-history-upkeep.js';
import { rotateLogIfLarger } from '../../src/engines/log-rotation.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { RunHistoryPruner, runStartedAt } from '../../src/state/run-retention.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { listAll } from '../../src/storage/object-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const NOW = new Date('2026-12-02T12:00:00Z');
const DAY = 86_400_000;
const id = (iso: string, n: number) => `${iso.replace(/[-:.]/gu, '')}-${String(n).padStart(12, '0')}`;
const OLD = (n: number) => id('2026-10-01T08:00:00.000Z', n);
const RECENT = (n: number) => id('2026-11-30T08:00:00.000Z', n);

async function keys(store: LocalObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of listAll(store, prefix)) out.push(o.key);
  return out;
}

describe('run history retention', () => {
  it('prunes reports, manifests and driver logs of old runs, and keeps every run a record still names', async () => {
    const root = await tempDir();
    const logDir = path.join(await tempDir(), 'runs');
    await mkdir(path.join(logDir, 'running'), { recursive: true });
    const store = new LocalObjectStore(root);
    const marker = new MarkerStore(store);
    const deadLetters = new DeadLetterStore(store);
    const runs = {
      oldFile: OLD(1), // a local lake's report: a file
      oldFolder: OLD(2), // an object store's report: a folder with a part file
      processed: OLD(3), // the run the marker names for raw/ds/a.parquet
      deadLettered: OLD(4),
      retrying: OLD(5),
      recent: RECENT(6),
    };
    for (const runId of [runs.oldFile, runs.processed, runs.deadLettered, runs.retrying, runs.recent]) {
      await store.put(`metadata/runs/${runId}.json`, '{}');
      await store.put(`metadata/batches/${runId}.json`, '{}');
      await writeFile(path.join(logDir, `${runId}.log`), 'driver log');
    }
    await store.put(`metadata/runs/${runs.oldFolder}.json/part-00000-x.json`, '{}');
    await store.put(`metadata/runs/${runs.oldFolder}.json/_SUCCESS`, '');
    await store.put('metadata/runs/manual-run.json', '{}'); // no start time in its id: kept
    await writeFile(path.join(logDir, 'running', `${runs.oldFile}.json`), '{}'); // a process record, not a log
    const rows = { read: 1, cleaned: 1, quarantined: 0, curated: 1 };
    await marker.recordAll({
      'raw/ds/a.parquet': { etag: '"a"', size: 1, runId: runs.processed, engine: 'local', finishedAt: '2026-10-01T08:01:00Z', rows },
    });
    await deadLetters.deadLetter({
      key: 'raw/ds/b.parquet',
      etag: '"b"',
      attempts: 1,
      deadLetteredAt: '2026-10-01T08:01:00Z',
      runId: runs.deadLettered,
      errorClass: 'PermanentJobError',
      message: 'not a Parquet file',
    });
    await deadLetters.beginAttempt('raw/ds/c.parquet', '"c"', runs.retrying, 3);

    const pruner = new RunHistoryPruner(store, { marker, deadLetters }, { keepMs: 30 * DAY, logDir, now: () => NOW });
    expect(await pruner.prune()).toEqual({ reports: 2, manifests: 1, logs: 1 });

    const kept = [runs.processed, runs.deadLettered, runs.retrying, runs.recent];
    expect(await keys(store, 'metadata/runs/')).toEqual(
      [...kept.map((r) => `metadata/runs/${r}.json`), 'metadata/runs/manual-run.json'].sort(),
    );
    expect(await keys(store, 'metadata/batches/')).toEqual(kept.map((r) => `metadata/batches/${r}.json`).sort());
    expect((await readdir(logDir)).sort()).toEqual([...kept.map((r) => `${r}.log`), 'running'].sort());
    expect(await readdir(path.join(logDir, 'running'))).toEqual([`${runs.oldFile}.json`]);
    // Nothing more goes on a second prune.
    expect(await pruner.prune()).toEqual({ reports: 0, manifests: 0, logs: 0 });
  });

  it('reads the start time a run id begins with', () => {
    expect(runStartedAt('20261202T164226123Z-0123456789ab')).toBe(Date.parse('2026-12-02T16:42:26.123Z'));
    expect(runStartedAt('manual-run')).toBeUndefined();
    expect(runStartedAt('20261302T164226123Z-x')).toBeUndefined(); // month 13
    expect(runStartedAt('20261202T254226123Z-x')).toBeUndefined(); // hour 25
  });
});

describe('run history upkeep', () => {
  it('prunes after a pass at most once an hour, one prune at a time, and reports a failure without throwing', async () => {
    let clock = 0;
    let calls = 0;
    let fail = false;
    const upkeep = new RunHistoryUpkeep(
      {
        prune: async () => {
          calls += 1;
          if (fail) throw new Error('ListObjectsV2 503 (test)');
          return { reports: 1, manifests: 0, logs: 0 };
        },
      },
      { everyMs: 3_600_000, now: () => clock },
    );
    const seen: string[] = [];
    upkeep.events.on('history:pruned', ({ reports }) => seen.push(`pruned ${reports}`));
    upkeep.events.on('history:prune-failed', ({ error }) => seen.push(`failed ${(error as Error).message}`));
    await Promise.all([upkeep.maybePrune(), upkeep.maybePrune()]); // the second joins the first
    clock += 59 * 60_000;
    await upkeep.maybePrune(); // not due
    clock += 60_000;
    fail = true;
    await upkeep.maybePrune();
    await upkeep.idle();
    expect(calls).toBe(2);
    expect(seen).toEqual(['pruned 1', 'failed ListObjectsV2 503 (test)']);
  });
});

describe('a worker log', () => {
  it('is rotated to .1 when it starts past the limit, and left alone below it', async () => {
    const dir = await tempDir();
    const log = path.join(dir, 'connect-worker-0.log');
    await writeFile(log, 'x'.repeat(100));
    expect(await rotateLogIfLarger(log, 100)).toBe(false);
    await writeFile(`${log}.1`, 'older');
    await writeFile(log, 'y'.repeat(101));
    expect(await rotateLogIfLarger(log, 100)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['connect-worker-0.log.1']);
    expect(await readFile(`${log}.1`, 'utf8')).toBe('y'.repeat(101));
    expect(await rotateLogIfLarger(path.join(dir, 'none.log'), 100)).toBe(false);
  });
});
