import type winston from 'winston';
import { AutoEngine } from '../engines/auto-engine.js';
import { ConnectEngine } from '../engines/connect/connect-engine.js';
import { SparkSubmitEngine } from '../engines/spark-submit-engine.js';
import { EmrServerlessEngine } from '../engines/emr/emr-serverless-engine.js';
import type { SparkEngine } from '../engines/engine.js';
import { logEmrEvents } from './emr-log-events.js';

/** The engines' own events as log lines: one line per switch between Connect and spark-submit, not per file. */
export function logEngineEvents(engine: SparkEngine, logger: winston.Logger): void {
  if (engine instanceof EmrServerlessEngine) logEmrEvents(engine, logger);
  const connect = engine instanceof AutoEngine ? engine.connectEngine : engine instanceof ConnectEngine ? engine : undefined;
  if (engine instanceof AutoEngine) {
    engine.events.on('engine:switched', ({ from, to, reason }) =>
      logger.log(
        from === undefined ? 'info' : 'warn',
        `jobs now run ${to === 'connect' ? 'over Spark Connect' : 'with spark-submit'}: ${reason}`,
        {
          event: 'engine:switched',
          engine: to,
          from,
          reason,
        },
      ),
    );
  }
  const local = engine instanceof AutoEngine ? engine.localEngine : engine;
  if (local instanceof SparkSubmitEngine) {
    local.events.on('orphan:stopped', ({ runId, pgid, controllerPid, processes }) =>
      logger.warn(
        processes > 0
          ? `stopped run ${runId} (process group ${pgid}): its controller (pid ${controllerPid}) is gone; its version runs again`
          : `run ${runId} of a controller that is gone (pid ${controllerPid}) had already ended`,
        { event: 'orphan:stopped', engine: 'local', runId, pgid, controllerPid, processes },
      ),
    );
  }
  if (connect instanceof ConnectEngine) {
    connect.events.on('worker:restarted', ({ slot, runId, reason }) =>
      logger.warn(`Spark Connect worker ${slot} died mid-job and was restarted; the job runs again`, {
        event: 'worker:restarted',
        engine: 'connect',
        runId,
        reason,
      }),
    );
  }
}
