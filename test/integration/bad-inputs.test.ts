import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWatcher, type Watcher } from '../../src/cli/wiring.js';
import { loadConfig } from '../../src/config/config.js';
import type { PassSummary } from '../../src/controller/pass-summary.js';
import type { DeadLetterEntry } from '../../src/state/dead-letters.js';
import { type TestConnectServer, startTestConnectServer } from '../helpers/connect-server.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';
import { curatedRows, expectLakeConsistent } from '../helpers/lake-consistency.js';
import { venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';

const BUCKET = 'bad-lake';
const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
/** Settings of every watcher here: a failure wrongly taken as retryable shows as 2 attempts instead of 1, without waiting. */
const RETRY_AT_ONCE = { MAX_ATTEMPTS: '2', RETRY_BASE_SECONDS: '0', RETRY_MAX_SECONDS: '0' };

/** One warm Spark Connect server (reading file:// and, through s3a, the moto server) for the whole file. */
let moto: MotoServer;
let server: TestConnectServer;
let work: string;
let inputs: string;
beforeAll(async () => {
  work = await tempDir('s3sw-bad-');
  inputs = path.join(work, 'inputs');
  await execa(venvPython(), ['test/helpers/make_bad_inputs.py', inputs]);
  moto = await startMotoServer();
  await moto.createBucket(BUCKET);
  server = await startTestConnectServer({
    s3: { s3: { region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }, credentials: MOTO_CREDENTIALS },
  });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await moto?.stop();
});

/** Dead-lettered for good at the first attempt, with a reason that names the problem. */
async function expectDeadLetteredForGood(
  watcher: Watcher,
  key: string,
  reason: RegExp,
  errorClass = 'PermanentJobError',
): Promise<DeadLetterEntry> {
  const entry = (await watcher.deadLetters.load()).document.deadLetters[key];
  expect(entry, `${key} is dead-lettered`).toBeDefined();
  expect(entry?.errorClass).toBe(errorClass);
  expect(entry?.attempts).toBe(1); // permanent: never retried
  expect(entry?.message).toMatch(reason);
  return entry as DeadLetterEntry;
}

/**
 * Issue 7's bad-input suite: one test per kind of bad or awkward input, end to end through the
 * controller with the real job on one warm Spark Connect server. Every kind is put in the lake
 * and settled by one pass (cheaper than a pass per kind); each test then checks its kind: processed
 * with the expected rows, or dead-lettered at once with a reason that names the problem, a good
 * file of the same dataset after a dead-lettered one still processed (the watcher keeps going),
 * and the lake consistent (versionStates, no duplicate curated row).
 */
describe('bad inputs, end to end (ENGINE=connect, local lake)', { timeout: 300_000 }, () => {
  let lake: string;
  let watcher: Watcher;
  let first: PassSummary;

  const segment = (c: string): string => c.repeat(200);
  const longPrefix = `raw/long/${segment('a')}/${segment('b')}/${segment('c')}/${segment('d')}/`;
  const K = {
    text: 'raw/text/notes.parquet',
    truncated: 'raw/truncated/half.parquet',
    empty: 'raw/empty/nothing.parquet',
    zeroRows: 'raw/zero/none.parquet',
    widenFirst: 'raw/widen/1-first.parquet',
    widenSecond: 'raw/widen/2-second.parquet',
    retypeFirst: 'raw/retype/1-first.parquet',
    retyped: 'raw/retype/2-retyped.parquet',
    nested: 'raw/nested/n.parquet',
    int96: 'raw/int96/legacy.parquet',
    decimals: 'raw/decimals/d.parquet',
    unicode: 'raw/keys/über straße+v2 (copy) 東京.parquet',
    percent: 'raw/keys/100%20off%.parquet',
    shell: `raw/keys/$(touch pwned);|&'"\`x\` *.parquet`,
    colon: 'raw/colon/2026-11-01T10:00:00.parquet',
    longest: `${longPrefix}${'e'.repeat(1024 - Buffer.byteLength(longPrefix) - '.parquet'.length)}.parquet`,
    tooLong: `${longPrefix}${'f'.repeat(1025 - Buffer.byteLength(longPrefix) - '.parquet'.length)}.parquet`,
    newline: 'raw/long/line\nbreak.parquet',
  };
  /** After each file that is dead-lettered, a good one of the same dataset: the watcher must go on with it. */
  const laterGood = (dataset: string): string => `raw/${dataset}/zz-later-good.parquet`;
  const LAYOUT: [input: string, key: string][] = [
    ['text', K.text],
    ['truncated', K.truncated],
    ['empty', K.empty],
    ['zero-rows', K.zeroRows],
    ['good', K.widenFirst],
    ['drift-new-column', K.widenSecond],
    ['good', K.retypeFirst],
    ['drift-changed-type', K.retyped],
    ['nested', K.nested],
    ['int96', K.int96],
    ['decimals', K.decimals],
    ['good', K.unicode],
    ['good', K.percent],
    ['good', K.shell],
    ['good', K.colon],
    ['good', K.longest],
    ['good', K.tooLong],
    ['good', K.newline],
    ...['text', 'truncated', 'empty', 'retype', 'colon', 'long'].map((d): [string, string] => ['good', laterGood(d)]),
  ];

  /** Copies a generated input to `key` in the lake, `second` seconds into the lake's history (oldest runs first). */
  const put = async (input: string, key: string, second: number): Promise<string> => {
    const target = path.join(lake, ...key.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(path.join(inputs, `${input}.parquet`), target);
    await utimes(target, 1_700_000_000 + second, 1_700_000_000 + second);
    return key;
  };
  const outcome = (key: string) => first.results.find((r) => r.key === key);
  const expectDeadLettered = (key: string, reason: RegExp, errorClass?: string) =>
    expectDeadLetteredForGood(watcher, key, reason, errorClass);
  /** The dataset is consistent, its versions are in these states, and its later good file was processed. */
  const expectSettled = async (dataset: string, states: Record<string, string>): Promise<void> => {
    const all = await expectLakeConsistent(watcher.store, { datasets: [dataset] });
    const expected = { ...states, ...(LAYOUT.some(([, k]) => k === laterGood(dataset)) ? { [laterGood(dataset)]: 'processed' } : {}) };
    expect(Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith(`raw/${dataset}/`)))).toEqual(expected);
  };
  const rowsOf = async (dataset: string, key: string) =>
    (await curatedRows(watcher.store, dataset)).filter((r) => r['_source_key'] === key);

  beforeAll(async () => {
    lake = path.join(work, 'lake');
    for (const [i, [input, key]] of LAYOUT.entries()) await put(input, key, i);
    watcher = await createWatcher(
      loadConfig(
        {
          ...process.env,
          LAKE: lake,
          ENGINE: 'connect',
          SPARK_REMOTE: server.state.remote,
          RUN_LOG_DIR: path.join(work, 'logs'),
          MAX_CONCURRENT_JOBS: '2',
          ...RETRY_AT_ONCE,
        },
        { cwd: work },
      ),
    );
    // One pass over every kind at once (two datasets at a time, as a user's watcher would).
    first = await watcher.reconciler.runPass();
  }, 240_000);
  afterAll(async () => {
    await watcher?.close();
  });

  it('settles every version in one pass: none is left pending, nothing failed as retryable', () => {
    expect(first.pending).toBe(0);
    expect(first.results.filter((r) => r.status === 'failed' && r.permanent !== true)).toEqual([]);
    expect(first.results).toHaveLength(LAYOUT.length);
  });

  it('a text file named .parquet is dead-lettered as not Parquet', async () => {
    await expectDeadLettered(K.text, /not a readable Parquet file/u);
    await expectSettled('text', { [K.text]: 'dead-lettered' });
  });

  it('a truncated Parquet file is dead-lettered as not readable', async () => {
    await expectDeadLettered(K.truncated, /not a readable Parquet file/u);
    await expectSettled('truncated', { [K.truncated]: 'dead-lettered' });
  });

  it('a zero-byte object is dead-lettered as empty, naming it, without running a job', async () => {
    await expectDeadLettered(K.empty, /"raw\/empty\/nothing\.parquet" is empty \(0 bytes\)/u, 'UnusableInputError');
    const runId = outcome(K.empty)?.runId;
    expect(runId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{12}$/u);
    expect(existsSync(path.join(lake, 'metadata/runs', `${runId}.json`))).toBe(false); // no run report: no job ran
    expect(existsSync(path.join(lake, 'metadata/runs', `${outcome(K.text)?.runId}.json`))).toBe(true); // as a job that ran and failed has
    await expectSettled('empty', { [K.empty]: 'dead-lettered' });
  });

  it('a zero-row Parquet file is processed with zero rows everywhere', async () => {
    expect((await watcher.marker.load()).document.files[K.zeroRows]?.rows).toEqual({ read: 0, cleaned: 0, quarantined: 0, curated: 0 });
    expect(await curatedRows(watcher.store, 'zero')).toEqual([]);
    await expectSettled('zero', { [K.zeroRows]: 'processed' });
  });

  it('schema drift with a new column: processed, curated widened (older rows get null)', async () => {
    const rows = await curatedRows(watcher.store, 'widen');
    expect(rows.map((r) => [r['id'], r['colour'] ?? null, r['_source_key']]).sort()).toEqual([
      [1, null, K.widenFirst],
      [1, 'red', K.widenSecond],
      [2, null, K.widenFirst],
      [2, 'green', K.widenSecond],
      [3, null, K.widenFirst],
      [3, 'blue', K.widenSecond],
    ]);
    await expectSettled('widen', { [K.widenFirst]: 'processed', [K.widenSecond]: 'processed' });
  });

  it('schema drift with a changed type: dead-lettered as a curated conflict naming the column and both types', async () => {
    // Both files ran in one batch (MAX_FILES_PER_JOB's default), so the conflict is with the earlier file, named.
    await expectDeadLettered(
      K.retyped,
      /column 'amount' is double in 'raw\/retype\/1-first\.parquet', an earlier file of this batch, but string in the new rows/u,
    );
    const rows = await curatedRows(watcher.store, 'retype');
    expect(rows.some((r) => r['_source_key'] === K.retyped)).toBe(false); // nothing of the retyped file
    await expectSettled('retype', { [K.retypeFirst]: 'processed', [K.retyped]: 'dead-lettered' });
  });

  it('nested struct, list and map columns are processed and reach curated as they are', async () => {
    const byId = Object.fromEntries((await rowsOf('nested', K.nested)).map((r) => [String(r['id']), r]));
    expect(byId['1']).toMatchObject({ point: { x: 1, y: 2 }, tags: ['a', 'b'], attrs: [['k', 1]], events: [{ x: 1, y: 1 }] });
    expect(byId['2']).toMatchObject({
      point: { x: 3, y: 4 },
      tags: [],
      attrs: [
        ['k', 2],
        ['j', 3],
      ],
    });
    expect(byId['3']).toMatchObject({ point: null, tags: null, attrs: null, events: [] });
    await expectSettled('nested', { [K.nested]: 'processed' });
  });

  it('INT96 timestamps and dates before 1582 are processed to the same instants', async () => {
    const rows = await rowsOf('int96', K.int96);
    expect(rows.map((r) => [r['id'], String(r['seen_at']), String(r['born_on'])]).sort()).toEqual([
      [1, '2026-11-01 09:15:00.123456+00:00', '2026-11-01'],
      [2, '1900-01-01 00:00:00+00:00', '1900-01-01'],
      [3, '0001-01-01 00:00:00+00:00', '0001-01-01'],
    ]);
    await expectSettled('int96', { [K.int96]: 'processed' });
  });

  it('decimals keep their precision and scale', async () => {
    const rows = await rowsOf('decimals', K.decimals);
    expect(rows.map((r) => [r['id'], r['price'], r['big'], r['whole']]).sort()).toEqual([
      [1, '19.99', '12345678901234567890.1234567890', '123456789012345678'],
      [2, '-0.01', '-1E-10', '0'],
      [3, '999.99', '0E-10', '-1'],
    ]);
    await expectSettled('decimals', { [K.decimals]: 'processed' });
  });

  it('keys with unicode, spaces, +, % and shell metacharacters are processed, never through a shell', async () => {
    for (const key of [K.unicode, K.percent, K.shell]) {
      const name = key.slice('raw/keys/'.length, -'.parquet'.length);
      const cleaned = await readdir(path.join(lake, 'cleaned', 'keys', name));
      expect(
        cleaned.some((f) => f.endsWith('.parquet')),
        key,
      ).toBe(true);
    }
    expect(await readdir(work)).not.toContain('pwned');
    expect(await readdir(lake)).not.toContain('pwned');
    await expectSettled('keys', { [K.unicode]: 'processed', [K.percent]: 'processed', [K.shell]: 'processed' });
  });

  it("a key with ':' (which Spark's Hadoop paths cannot read) is dead-lettered naming the key, not as a bad file", async () => {
    const entry = await expectDeadLettered(K.colon, /key has a ':'.*rename the object/u);
    expect(entry.message).toContain(K.colon);
    expect(entry.message).not.toMatch(/not a readable Parquet file/u);
    await expectSettled('colon', { [K.colon]: 'dead-lettered' });
  });

  it('a 1,024-byte key is processed; a longer one and one with a newline are dead-lettered naming the key', async () => {
    expect(Buffer.byteLength(K.longest)).toBe(1024);
    const tooLong = await expectDeadLettered(K.tooLong, /longer than 1024 bytes/u, 'UnsafeKeyError');
    expect(tooLong.message).toContain(JSON.stringify(K.tooLong));
    const newline = await expectDeadLettered(K.newline, /control character/u, 'UnsafeKeyError');
    expect(newline.message).toContain(JSON.stringify(K.newline));
    await expectSettled('long', { [K.longest]: 'processed', [K.tooLong]: 'dead-lettered', [K.newline]: 'dead-lettered' });
  });

  it('keeps going: the next pass holds the dead letters, runs nothing again, and processes a new good file', async () => {
    const fresh = await put('good', 'raw/text/next-day.parquet', LAYOUT.length);
    const next = await watcher.reconciler.runPass();
    const deadLettered = first.results.filter((r) => r.status === 'failed').length;
    expect(next).toMatchObject({ processed: 1, failed: 0, deadLettered, pending: 0, upToDate: LAYOUT.length - deadLettered });
    expect(next.results.map((r) => r.key)).toEqual([fresh]);
    expect((await expectLakeConsistent(watcher.store, { datasets: ['text'] }))[fresh]).toBe('processed');
  });
});

/** Start-up errors through the real CLI: one line that names the file or setting and the bad value, exit code 2. */
describe('bad configuration stops start-up with one clear line', () => {
  const cli = (cwd: string, args: string[], env: Record<string, string> = {}) =>
    execa(process.execPath, [path.resolve('bin/s3-spark-watcher.js'), ...args], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
      extendEnv: false,
      reject: false,
    });
  const expectOneLine = (result: { exitCode?: number | undefined; stderr: unknown; stdout: unknown }, ...parts: string[]): void => {
    const lines = String(result.stderr).trim().split('\n');
    expect(result.exitCode, String(result.stderr)).toBe(2);
    expect(lines, String(result.stderr)).toHaveLength(1);
    for (const part of parts) expect(lines[0]).toContain(part);
    expect(String(result.stderr)).not.toMatch(/\n\s+at /u); // no stack trace
  };

  it('a dataset spec that is not valid JSON', async () => {
    const dir = await tempDir('s3sw-badspec-');
    await mkdir(path.join(dir, 'datasets'));
    const file = path.join(dir, 'datasets', 'orders.json');
    await writeFile(file, '{ "columns": { "id": "bigint", } ');
    expectOneLine(await cli(dir, ['once'], { LAKE: path.join(dir, 'lake'), ENGINE: 'local' }), file, 'not valid JSON');
  });

  it('a dataset spec that names an unknown type', async () => {
    const dir = await tempDir('s3sw-badtype-');
    await mkdir(path.join(dir, 'datasets'));
    const file = path.join(dir, 'datasets', 'orders.json');
    await writeFile(file, JSON.stringify({ columns: { id: 'bigint', amount: 'money' } }));
    expectOneLine(await cli(dir, ['once'], { LAKE: path.join(dir, 'lake'), ENGINE: 'local' }), file, 'columns.amount', '"money"');
  });

  it('a .env with a non-numeric POLL_INTERVAL_SECONDS', async () => {
    const dir = await tempDir('s3sw-badenv-');
    await writeFile(path.join(dir, '.env'), `LAKE=${path.join(dir, 'lake')}\nPOLL_INTERVAL_SECONDS=ten\n`);
    expectOneLine(await cli(dir, ['watch']), 'POLL_INTERVAL_SECONDS="ten"', path.join(dir, '.env'));
  });
});

/**
 * The same watcher on an S3 lake (moto), for keys only S3 can hold or that a shell would read:
 * each is processed end to end, or dead-lettered with a message naming the key; nothing is
 * written outside the lake's prefix, and no shell ever sees a key.
 */
describe('awkward keys on S3 (moto), end to end (ENGINE=connect over s3a)', { timeout: 300_000 }, () => {
  let watcher: Watcher;
  const upload = async (input: string, key: string): Promise<string> => {
    await moto.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `lake/${key}`, Body: await readFile(path.join(inputs, `${input}.parquet`)) }),
    );
    return key;
  };
  const bucketKeys = async (prefix = ''): Promise<string[]> => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await moto.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return keys;
  };

  beforeAll(async () => {
    watcher = await createWatcher(
      loadConfig(
        {
          ...process.env,
          LAKE: `s3://${BUCKET}/lake`,
          S3_ENDPOINT: moto.endpoint,
          ACCESS_KEY: MOTO_CREDENTIALS.accessKeyId,
          SECRET_KEY: MOTO_CREDENTIALS.secretAccessKey,
          ENGINE: 'connect',
          SPARK_REMOTE: server.state.remote,
          RUN_LOG_DIR: path.join(work, 's3-logs'),
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...RETRY_AT_ONCE,
        },
        { cwd: work },
      ),
    );
  });
  afterAll(async () => {
    await watcher?.close();
  });

  it('processes keys with shell metacharacters, quotes, spaces, unicode and +; dead-letters ".." and too-long keys naming them', async () => {
    const shell = `raw/awk/$(touch pwned);|&'"\`id\` *.parquet`;
    const unicode = 'raw/awk/über straße+v2 東京 (1).parquet';
    // (A key with a newline is covered on the local lake: moto's router answers 404 to %0A in a path.)
    const dotdot = 'raw/awk/../../escape.parquet';
    // The longest key S3 takes (1,024 bytes with the lake's "lake/" prefix): its outputs under
    // cleaned/ and quarantine/ would be longer than S3 allows.
    const segment = 'a'.repeat(200);
    const prefix = `raw/long/${segment}/${segment}/${segment}/${segment}/`;
    const longest = `${prefix}${'e'.repeat(1024 - 'lake/'.length - Buffer.byteLength(prefix) - '.parquet'.length)}.parquet`;
    const keys = [shell, unicode, dotdot, longest];
    for (const key of keys) await upload('good', key);
    expect((await bucketKeys('lake/raw/')).sort()).toEqual(keys.map((k) => `lake/${k}`).sort()); // S3 holds them as they are

    const summary = await watcher.reconciler.runPass();
    expect(summary.results.filter((r) => r.status === 'failed').map((r) => `${r.key}: ${r.error}`)).toHaveLength(2);
    expect(summary).toMatchObject({ processed: 2, failed: 2, pending: 0 });
    for (const key of [shell, unicode]) {
      const name = key.slice('raw/awk/'.length, -'.parquet'.length);
      expect(
        (await bucketKeys(`lake/cleaned/awk/${name}/`)).some((k) => k.endsWith('.parquet')),
        key,
      ).toBe(true);
    }
    const escaping = await expectDeadLetteredForGood(watcher, dotdot, /unsafe object key.*"\.\." path segment/u, 'UnsafeKeyError');
    expect(escaping.message).toContain(JSON.stringify(dotdot));
    const long = await expectDeadLetteredForGood(watcher, longest, /longer than S3's 1,024-byte limit/u, 'PermanentJobError');
    expect(long.message).toContain(longest);

    // Nothing escaped the lake: every object is under lake/, and none was made by a shell.
    const all = await bucketKeys();
    expect(all.filter((k) => !k.startsWith('lake/'))).toEqual([]);
    expect(all.filter((k) => k.includes('escape') && !k.startsWith('lake/raw/'))).toEqual([]);
    expect(all.filter((k) => k.includes('pwned') && !k.includes('$(touch pwned)'))).toEqual([]);
    expect(await readdir(work)).not.toContain('pwned');
    expect(await readdir(process.cwd())).not.toContain('pwned');
    expect(await expectLakeConsistent(watcher.store)).toEqual({
      [shell]: 'processed',
      [unicode]: 'processed',
      [dotdot]: 'dead-lettered',
      [longest]: 'dead-lettered',
    });
  });
});
