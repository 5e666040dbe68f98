import type winston from 'winston';
import type { EmrServerlessEngine } from '../engines/emr/emr-serverless-engine.js';

/** The EMR Serverless engine's events as log lines: submissions and re-attaches at info, each state change at debug. */
export function logEmrEvents(engine: EmrServerlessEngine, logger: winston.Logger): void {
  const base = { engine: 'emr-serverless' };
  engine.events.on('emr:artifacts-uploaded', ({ hash, keys }) =>
    logger.info(`uploaded the job code to artifacts/${hash}/`, { ...base, event: 'emr:artifacts-uploaded', keys }),
  );
  engine.events.on('emr:application-starting', ({ applicationId, from }) =>
    logger.info(`starting EMR Serverless application ${applicationId} (it was ${from})`, {
      ...base,
      event: 'emr:application-starting',
    }),
  );
  engine.events.on('emr:job-run', ({ runId, jobRunId, attempt, key, reattached }) =>
    logger.info(
      reattached ? `re-attached to EMR job run ${jobRunId} of ${key}` : `EMR job run ${jobRunId} started for ${key} (attempt ${attempt})`,
      { ...base, event: 'emr:job-run', runId, jobRunId, attempt, key, reattached },
    ),
  );
  engine.events.on('emr:job-run-state', ({ runId, jobRunId, state }) =>
    logger.debug(`EMR job run ${jobRunId} is ${state}`, { ...base, event: 'emr:job-run-state', runId, jobRunId, state }),
  );
  engine.events.on('emr:job-run-cancelling', ({ runId, jobRunId, why }) =>
    logger.warn(`cancelling EMR job run ${jobRunId} (${why === 'timeout' ? 'timed out' : 'stopped'})`, {
      ...base,
      event: 'emr:job-run-cancelling',
      runId,
      jobRunId,
    }),
  );
  engine.events.on('emr:job-run-found', ({ runId, jobRunId, state }) =>
    logger.info(
      `found EMR job run ${jobRunId} (${state}) that an earlier controller started for run ${runId}; watching it instead of starting another`,
      {
        ...base,
        event: 'emr:job-run-found',
        runId,
        jobRunId,
        state,
      },
    ),
  );
  engine.events.on('emr:dashboard', ({ runId, jobRunId, url }) =>
    logger.info(`Spark UI of EMR job run ${jobRunId}: ${url}`, { ...base, event: 'emr:dashboard', runId, jobRunId, url }),
  );
  engine.events.on('emr:dashboard-unavailable', ({ runId, jobRunId, reason }) =>
    logger.debug(`no Spark UI link for EMR job run ${jobRunId}: ${reason}`, {
      ...base,
      event: 'emr:dashboard-unavailable',
      runId,
      jobRunId,
      reason,
    }),
  );
  engine.events.on('emr:job-run-finished', ({ runId, jobRunId, key, usage }) =>
    logger.info(`EMR job run ${jobRunId} ended ${usage.state}${usage.billed ? `, billed ${usage.billed.vCPUHour} vCPU-hours` : ''}`, {
      ...base,
      event: 'emr:job-run-finished',
      runId,
      jobRunId,
      key,
      usage,
    }),
  );
}
