import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { type DatasetSpec, SpecError, validateSpec } from './spec.js';

const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._=-]*$/u;

/**
 * Reads `<dir>/<dataset>.json` for every dataset. Any problem stops start-up with a ConfigError
 * that names the file and the field. A missing directory means "no specs".
 */
export async function loadDatasetSpecs(dir: string | undefined): Promise<ReadonlyMap<string, DatasetSpec>> {
  const specs = new Map<string, DatasetSpec>();
  if (dir === undefined) return specs;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new ConfigError(
      `DATASETS_DIR=${dir} cannot be read (${(error as Error).message}). Point it at a folder of <dataset>.json files, or unset it.`,
      {
        cause: error,
      },
    );
  }
  for (const name of names.filter((n) => n.toLowerCase().endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    const dataset = name.slice(0, -'.json'.length);
    if (!DATASET_NAME.test(dataset)) {
      throw new ConfigError(`${file}: ${JSON.stringify(dataset)} is not a dataset name (the first folder under raw/); rename the file.`);
    }
    let value: unknown;
    try {
      value = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`${file}: not valid JSON (${(error as Error).message}).`, { cause: error });
    }
    try {
      specs.set(dataset, validateSpec(value));
    } catch (error) {
      if (error instanceof SpecError) throw new ConfigError(`${file}: ${error.message}.`, { cause: error });
      throw error;
    }
  }
  return specs;
}
