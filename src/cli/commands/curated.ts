import path from 'node:path';
import { parseArgs } from 'node:util';
import { sparkLakeUri } from '../../config/lake-location.js';
import { CURATED_CONVERT_PATH } from '../../config/project-paths.js';
import { keepClaim } from '../../controller/claim-heartbeat.js';
import { newRunId } from '../../controller/reconciler.js';
import { realSleep } from '../../controller/retrying-run.js';
import { loadDatasetSpecs } from '../../datasets/load-specs.js';
import { convertCuratedTable } from '../../engines/curated-convert.js';
import { PermanentJobError, RetryableJobError } from '../../engines/job-errors.js';
import { ClaimStore } from '../../state/claims.js';
import { curatedTableState } from '../../state/curated-tables.js';
import { type CommandContext, configFrom, writeLine } from '../context.js';
import { localSpark } from '../engine-wiring.js';
import { createStore } from '../wiring.js';

export const curatedHelp = `curated convert <dataset> [--json]
                make curated/<dataset>/, a Parquet table, a Delta Lake table in place (CONVERT TO
                DELTA: no data file is rewritten; the rows are counted before and after). Holds
                the dataset's claim meanwhile, so no controller merges into it; runs on local
                Spark (setup --s3 for an S3 lake). A Delta table already: nothing to do, exit 0.
                --json: one JSON line, {dataset, table, converted, version, rows, partitionBy,
                statement}; {dataset, converted: false, version} when there was nothing to do`;

const USAGE = 's3-spark-watcher curated: usage: curated convert <dataset> [--json]';

export async function curatedCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...ctx.args],
    options: { json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const [verb, dataset, ...extra] = positionals;
  if (verb !== 'convert' || dataset === undefined || extra.length > 0) {
    writeLine(ctx.stderr, USAGE);
    return 2;
  }
  if (dataset === '' || dataset === '.' || dataset === '..' || /[/\\\0]/u.test(dataset)) {
    writeLine(ctx.stderr, `s3-spark-watcher curated: "${dataset}" is not a dataset name (one folder under curated/)`);
    return 2;
  }
  const config = configFrom(ctx);
  const store = await createStore(config);
  const say = (text: string): void => {
    if (!values.json) writeLine(ctx.stdout, text);
  };

  const state = await curatedTableState(store, dataset);
  if (state === undefined) {
    writeLine(ctx.stderr, `s3-spark-watcher curated: there is no curated table at curated/${dataset}/: nothing to convert`);
    return 2;
  }
  if (state.format === 'delta') {
    if (values.json) writeLine(ctx.stdout, JSON.stringify({ dataset, converted: false, version: state.version }));
    say(`curated/${dataset}/ is a Delta table already (version ${state.version}): nothing to do`);
    return 0;
  }
  const spec = (await loadDatasetSpecs(config.datasetsDir)).get(dataset);
  if (spec?.tableFormat === 'parquet') {
    writeLine(
      ctx.stderr,
      `s3-spark-watcher curated: the spec of ${dataset} in DATASETS_DIR says tableFormat "parquet", so its next run would refuse a Delta table: remove tableFormat (or set it to "delta") first`,
    );
    return 2;
  }

  const claims = new ClaimStore(store, { ttlMs: config.claimTtlMs });
  const acquired = await claims.acquire({ dataset, key: `curated/${dataset}/`, etag: 'curated convert' });
  if (!acquired.acquired) {
    const held = acquired.heldBy;
    writeLine(
      ctx.stderr,
      `s3-spark-watcher curated: ${dataset} is claimed by ${held.owner} (running ${held.key}) until ${held.expiresAt}: stop the watcher(s) on this lake, or wait, then try again`,
    );
    return 1;
  }
  const heartbeat = keepClaim(claims, acquired.claim, { everyMs: Math.floor(claims.ttlMs / 3), sleep: realSleep });
  const runId = `convert-${newRunId(new Date(), { key: `curated/${dataset}/`, etag: 'curated convert' })}`;
  const logPath = path.join(config.runLogDir, `${runId}.log`);
  try {
    const spark = await localSpark(config);
    say(`converting curated/${dataset}/ (driver log: ${logPath}) ...`);
    const result = await convertCuratedTable(
      { ...spark, scriptPath: CURATED_CONVERT_PATH, lakeUri: sparkLakeUri(config.lake), dataset, runId, logPath },
      heartbeat.lost,
    );
    // Converted by someone else between the look above and the claim: the job says so (converted: false).
    if (values.json) writeLine(ctx.stdout, JSON.stringify(result));
    else if (!result.converted) say(`curated/${dataset}/ is a Delta table already (version ${result.version}): nothing to do`);
    else
      say(
        `curated/${dataset}/ is a Delta table now: version ${result.version}, ${result.rows} rows (as before)` +
          (result.partitionBy.length > 0 ? `, partitioned by ${result.partitionBy.join(', ')}` : ''),
      );
    return 0;
  } catch (error) {
    if (!(error instanceof PermanentJobError || error instanceof RetryableJobError)) throw error;
    writeLine(ctx.stderr, `s3-spark-watcher curated: the conversion failed: ${error.message} (driver log: ${logPath})`);
    return error instanceof PermanentJobError ? 2 : 1;
  } finally {
    await claims.release(await heartbeat.stop()).catch(() => undefined);
  }
}
