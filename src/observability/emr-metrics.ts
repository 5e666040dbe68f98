import { Counter, type Registry } from 'prom-client';
import type { EmrServerlessEngine } from '../engines/emr/emr-serverless-engine.js';
import { TERMINAL_STATES } from '../engines/emr/job-run-states.js';

/** `total`: what the runs' workers used; `billed`: what the account pays for (EMR's minimums and rounding included). */
export const USAGE_MEASURES = ['total', 'billed'] as const;

/**
 * What EMR Serverless job runs used and were billed, summed over every run that ended (succeeded,
 * failed or cancelled): `s3sw_emr_vcpu_hours_total{measure="billed"} / s3sw_jobs_succeeded_total`
 * is vCPU-hours per file. Registered only with ENGINE=emr-serverless.
 */
export class EmrUsageMetrics {
  readonly vcpuHours: Counter<'measure'>;
  readonly memoryGbHours: Counter<'measure'>;
  readonly storageGbHours: Counter<'measure'>;
  readonly executionSeconds: Counter;
  readonly runsFinished: Counter<'state'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.vcpuHours = new Counter({
      name: 's3sw_emr_vcpu_hours_total',
      help: 'vCPU-hours of EMR Serverless job runs that ended (measure: total used, or billed)',
      labelNames: ['measure'],
      registers,
    });
    this.memoryGbHours = new Counter({
      name: 's3sw_emr_memory_gb_hours_total',
      help: 'Memory GB-hours of EMR Serverless job runs that ended (measure: total used, or billed)',
      labelNames: ['measure'],
      registers,
    });
    this.storageGbHours = new Counter({
      name: 's3sw_emr_storage_gb_hours_total',
      help: 'Storage GB-hours of EMR Serverless job runs that ended (measure: total used, or billed)',
      labelNames: ['measure'],
      registers,
    });
    this.executionSeconds = new Counter({
      name: 's3sw_emr_execution_seconds_total',
      help: 'totalExecutionDurationSeconds of EMR Serverless job runs that ended',
      registers,
    });
    this.runsFinished = new Counter({
      name: 's3sw_emr_job_runs_finished_total',
      help: 'EMR Serverless job runs watched to their end, by final state',
      labelNames: ['state'],
      registers,
    });
    for (const measure of USAGE_MEASURES) {
      this.vcpuHours.inc({ measure }, 0);
      this.memoryGbHours.inc({ measure }, 0);
      this.storageGbHours.inc({ measure }, 0);
    }
    for (const state of TERMINAL_STATES) this.runsFinished.inc({ state }, 0);
  }

  /** Counts each run the engine saw end. */
  record(engine: EmrServerlessEngine): void {
    engine.events.on('emr:job-run-finished', ({ usage }) => {
      this.runsFinished.inc({ state: usage.state });
      if (usage.executionSeconds !== undefined) this.executionSeconds.inc(usage.executionSeconds);
      for (const measure of USAGE_MEASURES) {
        const hours = usage[measure];
        if (hours === undefined) continue;
        this.vcpuHours.inc({ measure }, hours.vCPUHour);
        this.memoryGbHours.inc({ measure }, hours.memoryGBHour);
        this.storageGbHours.inc({ measure }, hours.storageGBHour);
      }
    });
  }
}
