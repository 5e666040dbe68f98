import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDatasetSpecs } from '../../src/datasets/load-specs.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Shared with the job's tests (spark-jobs/tests/test_spec.py): both validators decide alike. */
const EXPRESSIONS = JSON.parse(readFileSync('spark-jobs/tests/spec_expressions.json', 'utf8')) as {
  refused: { expr: string; word?: string; problem?: string }[];
  allowed: string[];
};

async function specsDir(files: Record<string, string>): Promise<string> {
  const dir = path.join(await tempDir(), 'datasets');
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

describe('dataset specs', () => {
  it('loads the demo spec', async () => {
    const specs = await loadDatasetSpecs(path.resolve('demo/datasets'));
    expect(specs.get('orders')?.keys).toEqual(['order_id']);
  });

  it('has none when no folder is configured', async () => {
    expect((await loadDatasetSpecs(undefined)).size).toBe(0);
  });

  it.each([
    ['{ not json', /orders\.json: not valid JSON/u],
    ['{"columns": {"amount": "money"}}', /orders\.json: columns\.amount: "money" is not a Spark type/u],
    ['{"colums": {}}', /orders\.json: colums: unknown field/u],
    ['{"orderBy": ["ts"]}', /orderBy: needs "keys"/u],
    ['{"rules": [{"name": "r"}]}', /rules\[0\]\.expr: must be a non-empty Spark SQL expression/u],
    ['{"required": ["Order ID"]}', /required\[0\]: "Order ID" is not a snake_case column name/u],
    ['{"columns": {"amount": "decimal(40,2)"}}', /columns\.amount/u],
    ['{"tableFormat": "iceberg"}', /tableFormat: must be "delta" or "parquet", got "iceberg"/u],
  ])('stops start-up naming the file and the field: %s', async (text, message) => {
    const dir = await specsDir({ 'orders.json': text });
    const error = await loadDatasetSpecs(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(path.join(dir, 'orders.json'));
  });

  it('accepts every field', async () => {
    const spec = {
      columns: { id: 'bigint', amount: 'decimal(10,2)', ts: 'timestamp', name: 'varchar(20)' },
      required: ['id'],
      rules: [{ name: 'positive', expr: 'amount > 0' }],
      keys: ['id'],
      orderBy: ['ts'],
      partitionBy: [{ name: 'day', expr: 'to_date(ts)' }],
      nullTokens: ['-', ''],
      tableFormat: 'parquet',
    };
    const specs = await loadDatasetSpecs(await specsDir({ 'events.json': JSON.stringify(spec), 'README.txt': 'ignored' }));
    expect(specs.get('events')).toEqual(spec);
  });

  it.each(EXPRESSIONS.refused)('refuses an expression that escapes the data: $expr', async ({ expr, word, problem }) => {
    for (const field of ['rules', 'partitionBy']) {
      const dir = await specsDir({ 'orders.json': JSON.stringify({ [field]: [{ name: 'x', expr }] }) });
      const error = await loadDatasetSpecs(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      const expected = word === undefined ? `has ${problem}` : `uses "${word}"`;
      expect((error as Error).message).toContain(`orders.json: ${field}[0].expr: ${expected}`);
    }
  });

  it.each(EXPRESSIONS.allowed)('allows words the guard refuses inside literals and comments: %s', async (expr) => {
    const dir = await specsDir({ 'orders.json': JSON.stringify({ rules: [{ name: 'x', expr }] }) });
    expect((await loadDatasetSpecs(dir)).get('orders')?.rules?.[0]?.expr).toBe(expr);
  });
});
