import { createHash } from 'node:crypto';
import type { StartJobRunCommandInput } from '@aws-sdk/client-emr-serverless';
import { RetryableError } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { type JobRunState, isJobRunState } from './job-run-states.js';
import type { EmrUsage } from './job-run-usage.js';

export const INFLIGHT_PREFIX = 'metadata/inflight/';

/**
 * What the controller knows about the EMR run of one file version, kept in the lake so that a
 * restarted controller finds it: written before StartJobRun (the intent: run id, client token),
 * updated with the job run id before waiting, and with the final state when the run ends. A record
 * without a final state is a run to re-attach to; one with a final state only counts attempts, so
 * the next run of the version (a retry, or a reprocess after success) gets a new client token.
 */
export interface InflightRecord {
  readonly key: string;
  readonly etag: string;
  readonly attempt: number;
  readonly runId: string;
  readonly clientToken: string;
  readonly applicationId: string;
  /** When the attempt was first submitted (ISO): the controller's deadline counts from here. */
  readonly submittedAt: string;
  /**
   * The exact StartJobRun request, written with the intent: a controller restarted before it
   * recorded the job run id looks for the run by its name (ListJobRuns), and sends this same
   * request (same token, same code, same arguments) only if there is none. Absent in records
   * written before it was kept.
   */
  readonly request?: StartJobRunCommandInput;
  readonly jobRunId?: string;
  /** Set when the run ended (SUCCESS, FAILED, CANCELLED). */
  readonly finalState?: JobRunState;
  /** What the run used and was billed, from GetJobRun once it ended. */
  readonly usage?: EmrUsage;
}

/** `metadata/inflight/<sha256 of key and ETag>.json`: one record per file version. */
export function inflightKey(key: string, etag: string): string {
  return `${INFLIGHT_PREFIX}${createHash('sha256')
    .update(JSON.stringify([key, etag]))
    .digest('hex')}.json`;
}

export class InflightRecords {
  constructor(private readonly store: ObjectStore) {}

  async read(key: string, etag: string, signal?: AbortSignal): Promise<InflightRecord | undefined> {
    const where = inflightKey(key, etag);
    const object = await this.store.get(where, signal);
    if (object === undefined) return undefined;
    let value: Partial<InflightRecord>;
    try {
      value = JSON.parse(object.body.toString('utf8')) as Partial<InflightRecord>;
    } catch (error) {
      throw new RetryableError(`the in-flight record ${where} is not JSON; delete it to submit the version again`, { cause: error });
    }
    if (
      value.key !== key ||
      value.etag !== etag ||
      typeof value.runId !== 'string' ||
      typeof value.clientToken !== 'string' ||
      typeof value.applicationId !== 'string' ||
      (value.request !== undefined && (typeof value.request !== 'object' || value.request === null)) ||
      !Number.isInteger(value.attempt) ||
      (value.finalState !== undefined && !isJobRunState(value.finalState))
    ) {
      throw new RetryableError(`the in-flight record ${where} is not a record of ${key} ${etag}; delete it to submit the version again`);
    }
    return value as InflightRecord;
  }

  async write(record: InflightRecord, signal?: AbortSignal): Promise<void> {
    await this.store.put(inflightKey(record.key, record.etag), `${JSON.stringify(record, null, 2)}\n`, {
      contentType: 'application/json',
      ...(signal ? { signal } : {}),
    });
  }
}
