#!/usr/bin/env node
// A stand-in for spark-submit in engine tests: behaves per FAKE_SPARK_MODE, writes what it got.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const arg = (name) => args[args.indexOf(name) + 1];
const mode = process.env.FAKE_SPARK_MODE ?? 'ok';
if (process.env.FAKE_ARGS_FILE) writeFileSync(process.env.FAKE_ARGS_FILE, JSON.stringify({ args, env: process.env }));
console.error('INFO SparkContext: Running Spark version 4.0.5');

if (mode === 'ok') {
  const lake = arg('--lake').replace(/^file:\/\//, '');
  const runId = arg('--run-id');
  const report = {
    runId,
    key: arg('--key'),
    etag: arg('--etag'),
    dataset: 'ds',
    status: 'succeeded',
    rows: { read: 5, cleaned: 4, quarantined: 1, curated: 4 },
    outputs: {},
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    sparkVersion: '4.0.5',
  };
  mkdirSync(path.join(lake, 'metadata', 'runs'), { recursive: true });
  writeFileSync(path.join(lake, 'metadata', 'runs', `${runId}.json`), JSON.stringify(report));
  process.exit(0);
} else if (mode === 'no-report') {
  process.exit(0);
} else if (mode === 'permanent') {
  console.error('pipeline: permanent: raw/x.parquet is not a Parquet file (magic number mismatch)');
  process.exit(2);
} else if (mode === 'crash') {
  console.error('java.lang.OutOfMemoryError: Java heap space');
  process.exit(1);
} else if (mode === 'hang') {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  writeFileSync(process.env.FAKE_PID_FILE, String(child.pid));
  setInterval(() => {}, 1000);
}
