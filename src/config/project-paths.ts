import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root: two levels above this file, from src/config/ and from dist/config/ alike. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SPARK_JOBS_DIR = path.join(PROJECT_ROOT, 'spark-jobs');
export const PIPELINE_PATH = path.join(SPARK_JOBS_DIR, 'pipeline.py');
export const REQUIREMENTS_PATH = path.join(SPARK_JOBS_DIR, 'requirements.txt');
/** The project's own Python virtualenv with the pinned PySpark (made by `s3-spark-watcher setup`). */
export const VENV_DIR = path.join(PROJECT_ROOT, '.venv');
export const VENV_PYTHON = path.join(VENV_DIR, 'bin', 'python');
export const VENV_SPARK_SUBMIT = path.join(VENV_DIR, 'bin', 'spark-submit');
export const WORKER_PATH = path.join(SPARK_JOBS_DIR, 'worker.py');
/** Converts a Parquet curated table to Delta in place (`curated convert`). */
export const CURATED_CONVERT_PATH = path.join(SPARK_JOBS_DIR, 'curated_convert.py');
