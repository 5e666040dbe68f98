#!/usr/bin/env node
// A stand-in for spark-jobs/worker.py in engine tests: speaks its JSON-lines protocol and behaves
// per FAKE_WORKER_MODE and per job key, with no Spark behind it.
//   ready: answer each job by its key: "*permanent*" exit 2, "*retryable*" exit 1, "*lost*"
//          connectionLost, "*die-once*" exits before answering the first time (then answers),
//          "*hang*" never answers, "*garbage*" prints a non-JSON line; else exit 0 with a report.
//   unreachable: cannot open a session (the server is down).
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const sessionId = args[args.indexOf('--session-id') + 1];
const mode = process.env.FAKE_WORKER_MODE ?? 'ready';
const state = process.env.FAKE_WORKER_STATE;
const send = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);
if (state) appendFileSync(`${state}.starts`, `${sessionId}\n`);

if (mode === 'unreachable') {
  send({ type: 'fatal', connectionLost: true, message: 'failed to connect to all addresses; Connection refused' });
  process.exit(3);
}
send({ type: 'ready', sparkVersion: '4.0.5', sessionId });
for await (const line of createInterface({ input: process.stdin })) {
  const { id, job } = JSON.parse(line);
  const key = job.key;
  if (key.includes('die-once') && state && !existsSync(`${state}.died`)) {
    writeFileSync(`${state}.died`, '');
    process.exit(137);
  }
  if (key.includes('hang')) continue;
  if (key.includes('garbage')) {
    process.stdout.write('INFO this is not JSON\n');
    continue;
  }
  const fail = (exitCode, kind, extra = {}) =>
    send({
      type: 'result',
      id,
      exitCode,
      kind,
      errorType: 'X',
      message: `${kind} failure of ${key}`,
      connectionLost: false,
      report: null,
      ...extra,
    });
  if (key.includes('permanent')) fail(2, 'permanent');
  else if (key.includes('retryable')) fail(1, 'retryable');
  else if (key.includes('lost')) {
    fail(1, 'retryable', { connectionLost: true, errorType: 'ConnectionLost' });
    process.exit(3);
  } else {
    const now = new Date().toISOString();
    send({
      type: 'result',
      id,
      exitCode: 0,
      report: {
        runId: job.runId,
        key,
        etag: job.etag,
        dataset: key.split('/')[1],
        status: 'succeeded',
        rows: { read: 2, cleaned: 2, quarantined: 0, curated: 2 },
        outputs: {},
        startedAt: now,
        finishedAt: now,
        sparkVersion: '4.0.5',
      },
    });
  }
}
