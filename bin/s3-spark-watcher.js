#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm install` through the prepare script, or `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('s3-spark-watcher: dist/ is missing; run `npm install` (or `npm run build`) in the project first.\n');
  process.exit(2);
}
const { run } = await import(entry.href);
await run();
