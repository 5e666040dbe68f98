import { expressionProblem } from './expression-guard.js';

/**
 * A dataset spec (DESIGN.md): optional, one JSON file per dataset, validated here at start-up and
 * passed to the Spark job whole. Column names are the job's snake_cased names.
 */
export interface DatasetSpec {
  /** column -> Spark SQL type; a failed cast sends the row to quarantine. */
  readonly columns?: Readonly<Record<string, string>>;
  /** Columns that must not be null. */
  readonly required?: readonly string[];
  /** Spark SQL boolean expressions; false or null sends the row to quarantine. */
  readonly rules?: readonly { readonly name: string; readonly expr: string }[];
  /** Curated keeps one row per key ... */
  readonly keys?: readonly string[];
  /** ... the one with the greatest of these. Needs `keys`. */
  readonly orderBy?: readonly string[];
  /** Partition columns of curated, computed by Spark SQL expressions. */
  readonly partitionBy?: readonly { readonly name: string; readonly expr: string }[];
  /** Strings that mean null. @default ["", "null", "NULL", "N/A", "NaN", "None"] */
  readonly nullTokens?: readonly string[];
  /** Curated's table format. Unset: a new table is Delta Lake, an existing one keeps its format. */
  readonly tableFormat?: 'delta' | 'parquet';
}

const SPEC_FIELDS = ['columns', 'required', 'rules', 'keys', 'orderBy', 'partitionBy', 'nullTokens', 'tableFormat'] as const;
const TABLE_FORMATS = ['delta', 'parquet'] as const;

/** Spark SQL types a column may be cast to. Nested columns pass through uncast. */
const SIMPLE_TYPES = new Set([
  'string',
  'boolean',
  'tinyint',
  'byte',
  'smallint',
  'short',
  'int',
  'integer',
  'bigint',
  'long',
  'float',
  'real',
  'double',
  'date',
  'timestamp',
  'timestamp_ntz',
  'binary',
  'decimal',
]);
const PARAMETERISED_TYPE = /^(?:decimal|numeric|dec)\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$|^(?:varchar|char)\(\s*(\d+)\s*\)$/iu;
const COLUMN_NAME = /^[a-z_][a-z0-9_]*$/u;

export class SpecError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'SpecError';
  }
}

export function isSparkType(type: string): boolean {
  const t = type.trim().toLowerCase();
  if (SIMPLE_TYPES.has(t)) return true;
  const m = PARAMETERISED_TYPE.exec(t);
  if (!m) return false;
  if (m[1] !== undefined) {
    const precision = Number(m[1]);
    const scale = m[2] === undefined ? 0 : Number(m[2]);
    return precision >= 1 && precision <= 38 && scale <= precision;
  }
  return Number(m[3]) >= 1;
}

/** Checks a parsed spec; throws SpecError naming the first bad field. */
export function validateSpec(value: unknown): DatasetSpec {
  if (!isRecord(value)) throw new SpecError('(top level)', 'must be a JSON object');
  for (const field of Object.keys(value)) {
    if (!(SPEC_FIELDS as readonly string[]).includes(field)) {
      throw new SpecError(field, `unknown field; the fields are ${SPEC_FIELDS.join(', ')}`);
    }
  }
  const { columns, required, rules, keys, orderBy, partitionBy, nullTokens, tableFormat } = value;
  if (columns !== undefined) {
    if (!isRecord(columns)) throw new SpecError('columns', 'must be an object of column name -> Spark type');
    for (const [name, type] of Object.entries(columns)) {
      checkColumnName(`columns.${name}`, name);
      if (typeof type !== 'string' || !isSparkType(type)) {
        throw new SpecError(
          `columns.${name}`,
          `${JSON.stringify(type)} is not a Spark type this job casts to; use one of ${[...SIMPLE_TYPES].join(', ')}, decimal(p,s), varchar(n)`,
        );
      }
    }
  }
  stringList('required', required);
  namedExpressions('rules', rules);
  stringList('keys', keys);
  stringList('orderBy', orderBy);
  if (orderBy !== undefined && (keys === undefined || (keys as unknown[]).length === 0)) {
    throw new SpecError('orderBy', 'needs "keys": it says which row of a key is the latest');
  }
  namedExpressions('partitionBy', partitionBy);
  if (tableFormat !== undefined && !(TABLE_FORMATS as readonly unknown[]).includes(tableFormat)) {
    throw new SpecError(
      'tableFormat',
      `must be ${TABLE_FORMATS.map((f) => JSON.stringify(f)).join(' or ')}, got ${JSON.stringify(tableFormat)}`,
    );
  }
  if (nullTokens !== undefined) {
    if (!Array.isArray(nullTokens) || !nullTokens.every((t) => typeof t === 'string')) {
      throw new SpecError('nullTokens', 'must be a list of strings');
    }
  }
  return value as DatasetSpec;
}

function stringList(field: string, value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.length === 0) throw new SpecError(field, 'must be a non-empty list of column names');
  value.forEach((name, i) => checkColumnName(`${field}[${i}]`, name));
  if (new Set(value).size !== value.length) throw new SpecError(field, 'lists a column twice');
}

function namedExpressions(field: string, value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) throw new SpecError(field, 'must be a list of {"name", "expr"} objects');
  const names = new Set<string>();
  value.forEach((item, i) => {
    const where = `${field}[${i}]`;
    if (!isRecord(item)) throw new SpecError(where, 'must be an object {"name", "expr"}');
    const extra = Object.keys(item).filter((k) => k !== 'name' && k !== 'expr');
    if (extra.length > 0) throw new SpecError(where, `unknown field ${extra.join(', ')}; only "name" and "expr"`);
    if (typeof item['name'] !== 'string' || item['name'].trim() === '') throw new SpecError(`${where}.name`, 'must be a non-empty string');
    if (typeof item['expr'] !== 'string' || item['expr'].trim() === '')
      throw new SpecError(`${where}.expr`, 'must be a non-empty Spark SQL expression');
    const problem = expressionProblem(item['expr']);
    if (problem !== undefined) throw new SpecError(`${where}.expr`, problem);
    if (field === 'partitionBy') checkColumnName(`${where}.name`, item['name']);
    if (names.has(item['name'])) throw new SpecError(`${where}.name`, `${JSON.stringify(item['name'])} is used twice`);
    names.add(item['name']);
  });
}

function checkColumnName(where: string, name: unknown): void {
  if (typeof name !== 'string' || !COLUMN_NAME.test(name)) {
    throw new SpecError(where, `${JSON.stringify(name)} is not a snake_case column name (the job renames columns to snake_case first)`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
