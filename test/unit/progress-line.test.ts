import { PassThrough } from 'node:stream';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { logControllerEvents } from '../../src/observability/log-events.js';
import { createLogger } from '../../src/observability/logger.js';
import { ProgressLine, progressLineFor } from '../../src/observability/progress-line.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';

const CLEAR = '\r\u001b[K';

async function setup() {
  const root = await tempDir();
  const store = new LocalObjectStore(root);
  const engine = new ScriptedEngine();
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker: new MarkerStore(store),
    deadLetters: new DeadLetterStore(store),
    engine,
    maxConcurrentJobs: 1,
  });
  const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 200 });
  let output = '';
  terminal.on('data', (c: Buffer) => (output += c.toString()));
  let clock = 0;
  const progress = new ProgressLine({ stream: terminal, now: () => clock, tickMs: 0 }).follow(reconciler);
  const put = async (key: string, mtime: number) => {
    await store.put(key, key);
    await utimes(path.join(root, key), mtime, mtime);
  };
  return { engine, reconciler, progress, put, output: () => output, advance: (ms: number) => (clock += ms) };
}

describe('the progress line', () => {
  it('is drawn only on a terminal, and not when the log lines are JSON', () => {
    expect(progressLineFor(new PassThrough(), undefined)).toBeUndefined();
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    expect(progressLineFor(tty, 'json')).toBeUndefined();
    expect(progressLineFor(tty, undefined)).toBeInstanceOf(ProgressLine);
  });

  it('shows done / total, the current file and the elapsed time, and is erased when the pass ends', async () => {
    const { engine, reconciler, progress, put, output, advance } = await setup();
    for (const [i, key] of ['raw/a/1.parquet', 'raw/a/2.parquet', 'raw/b/3.parquet'].entries()) {
      await put(key, i + 1);
      engine.script(key, 'hold');
    }
    const pass = reconciler.runPass();
    await engine.started(1);
    expect(progress.text()).toBe('» 0/3 done  0s  raw/a/1.parquet');
    advance(75_000);
    expect(progress.text()).toBe('» 0/3 done  1m15s  raw/a/1.parquet');
    engine.release('raw/a/1.parquet');
    await engine.started(2);
    expect(progress.text()).toBe('» 1/3 done  1m15s  raw/a/2.parquet');
    engine.release('raw/a/2.parquet');
    await engine.started(3);
    engine.release('raw/b/3.parquet');
    await pass;
    expect(progress.text()).toBe('');
    expect(output()).toContain('» 2/3 done  1m15s  raw/b/3.parquet');
    expect(output().endsWith(CLEAR)).toBe(true);
  });

  it('keeps log lines whole, above the line', async () => {
    const { engine, reconciler, progress, put, output } = await setup();
    logControllerEvents(reconciler, createLogger({ level: 'info', stream: progress.logStream }));
    await put('raw/a/1.parquet', 1);
    await put('raw/a/2.parquet', 2);
    engine.script('raw/a/2.parquet', 'hold');
    const pass = reconciler.runPass();
    await engine.started(2);
    // the line is erased before each log line (which then starts at column 0) and drawn again after it
    const lines = output().split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines.slice(0, 3)) {
      const afterClear = line.split(CLEAR).at(-1) ?? '';
      expect(line).toContain(CLEAR);
      expect(afterClear).toMatch(/^\d\d:\d\d:\d\d \S*info\S* job (started|succeeded): raw\/a\/[12]\.parquet {2}key=/u);
    }
    expect(output().split('\n').at(-1)).toBe('» 1/2 done  0s  raw/a/2.parquet');
    engine.release('raw/a/2.parquet');
    await pass;
  });

  it('draws nothing for a pass with nothing to run', async () => {
    const { reconciler, output } = await setup();
    await reconciler.runPass();
    expect(output()).toBe('');
  });
});
