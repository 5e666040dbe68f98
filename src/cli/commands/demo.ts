import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { PROJECT_ROOT, VENV_PYTHON } from '../../config/project-paths.js';
import { logEngineEvents } from '../../observability/engine-log-events.js';
import { progressLineFor } from '../../observability/progress-line.js';
import { logReliabilityEvents } from '../../observability/reliability-log-events.js';
import { logControllerEvents } from '../../observability/log-events.js';
import { PrerequisiteError } from '../../errors.js';
import { checkJava } from '../../engines/spark-install.js';
import { portAnswers } from '../../engines/connect/spark-remote.js';
import { type CommandContext, configFrom, loggerFor, writeLine } from '../context.js';
import { formatPassSummary } from '../format-summary.js';
import { ensureDeltaJars } from '../delta-jars-setup.js';
import { ensurePythonEnv } from '../python-env.js';
import { createWatcher } from '../wiring.js';
import { childEnv } from './setup.js';
import { watchCommand } from './watch.js';

export const demoHelp = `demo [--watch]  the embedded local lake: make .venv if needed, write sample raw files
                into ./lake, run one pass and show what happened; --watch keeps watching`;

/** The embedded default: a lake in ./lake, the demo's dataset specs, the local engine. */
export async function demoCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({ args: [...ctx.args], options: { watch: { type: 'boolean', default: false } }, strict: true });
  const say = (line: string): void => writeLine(ctx.stderr, line);
  const env = childEnv(ctx);
  const overrides = {
    LAKE: ctx.env['LAKE'] ?? path.join(ctx.cwd, 'lake'),
    DATASETS_DIR: ctx.env['DATASETS_DIR'] ?? path.join(PROJECT_ROOT, 'demo', 'datasets'),
    POLL_INTERVAL_SECONDS: ctx.env['POLL_INTERVAL_SECONDS'] ?? '5',
  };
  const config = configFrom(ctx, overrides);
  if (config.lake.kind !== 'local') throw new PrerequisiteError('the demo runs on a local lake; unset LAKE or point it at a folder');

  say('1/3 Python and Java');
  await ensurePythonEnv({ env, quiet: false, say });
  say(`    ${await checkJava(env)}`);
  await ensureDeltaJars({ env, say: (line) => say(`    ${line}`) });

  say(`2/3 Sample raw files in ${config.lake.root}/raw`);
  const generated = await execa(VENV_PYTHON, [path.join(PROJECT_ROOT, 'demo', 'make_demo_data.py'), '--lake', config.lake.root], {
    env,
    extendEnv: false,
    reject: false,
  });
  if (generated.failed) throw new PrerequisiteError(`writing the sample files failed: ${generated.stderr || generated.shortMessage}`);
  for (const file of String(generated.stdout).split('\n').filter(Boolean)) say(`    ${path.relative(ctx.cwd, file)}`);

  const overConnect = config.engine !== 'local' && (await portAnswers(config.sparkRemote));
  say(
    overConnect
      ? `3/3 One pass, over the Spark Connect server at ${config.sparkRemote.url}`
      : '3/3 One pass (one spark-submit per new file version; the first takes a while; `s3-spark-watcher spark-connect start` makes them fast)',
  );
  const progress = progressLineFor(ctx.stderr, config.logFormat);
  const watcher = await createWatcher(config);
  const logger = loggerFor(ctx, config, progress?.logStream);
  logControllerEvents(watcher.reconciler, logger);
  logEngineEvents(watcher.engine, logger);
  progress?.follow(watcher.reconciler);
  logReliabilityEvents(watcher.reconciler, logger);
  try {
    const summary = await watcher.reconciler.runPass();
    writeLine(ctx.stdout, '');
    writeLine(ctx.stdout, formatPassSummary(summary, config.lake.root));
    writeLine(ctx.stdout, '');
    writeLine(
      ctx.stdout,
      `Marker: ${path.relative(ctx.cwd, path.join(config.lake.root, 'metadata', 'processed_files.json'))}; driver logs: ${path.relative(ctx.cwd, config.runLogDir)}/`,
    );
    if (!values.watch) {
      writeLine(ctx.stdout, 'Run again and nothing is reprocessed; `npm run demo -- --watch` keeps watching lake/raw/ for new files.');
      return summary.failed > 0 ? 1 : 0;
    }
  } finally {
    progress?.close();
    await watcher.close();
  }
  return watchCommand({ ...ctx, args: [] }, overrides);
}
