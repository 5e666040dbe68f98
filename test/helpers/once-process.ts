import { execa } from 'execa';

/** A JSON log line of the CLI. */
export type LogLine = Record<string, unknown>;

/**
 * The environment of a `once` CLI process on a local lake with the real spark-submit: the demo's
 * specs, one local job at a time on one core, JSON logs, and only PATH and JAVA_HOME from outside.
 */
export function localOnceEnv(lake: string, runLogDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LAKE: lake,
    DATASETS_DIR: 'demo/datasets',
    RUN_LOG_DIR: runLogDir,
    ENGINE: 'local',
    SPARK_MASTER: 'local[1]',
    MAX_CONCURRENT_JOBS: '1',
    LOG_FORMAT: 'json',
    PATH: process.env['PATH'] ?? '',
    ...(process.env['JAVA_HOME'] ? { JAVA_HOME: process.env['JAVA_HOME'] } : {}),
    ...extra,
  };
}

/** `s3-spark-watcher once --json` in its own process, with exactly `env`. */
export function runOnce(env: Record<string, string>) {
  return execa(process.execPath, ['bin/s3-spark-watcher.js', 'once', '--json'], { env, extendEnv: false, reject: false });
}

/** The JSON log lines of a CLI process's stderr. */
export function logLines(stderr: unknown): LogLine[] {
  return String(stderr)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The pass summary `once --json` prints as its last line. */
export function onceSummary(stdout: unknown): Record<string, number> {
  return JSON.parse(String(stdout).trim().split('\n').at(-1) ?? '') as Record<string, number>;
}
