"""What a run does when it fails: the exception as a typed JobError, and the failed report."""

from __future__ import annotations

import traceback

from pyspark.sql import SparkSession

from watcher_job.errors import JobError, RetryableJobError
from watcher_job.report import FAILED, utc_now_iso, write_report
from watcher_job.sparkio import SPARK_ERRORS, one_line


def as_job_error(exc: BaseException) -> JobError:
    """A JobError as it is; a Spark error as retryable; anything else as a retryable `Unexpected`
    with its traceback (call from the `except` block that caught it)."""
    if isinstance(exc, JobError):
        return exc
    if isinstance(exc, SPARK_ERRORS):
        error = RetryableJobError(one_line(exc), type=type(exc).__name__)
        error.__cause__ = exc
        return error
    error = RetryableJobError(f"unexpected {type(exc).__name__}: {one_line(exc)}", type="Unexpected")
    error.__cause__ = exc
    error.traceback = traceback.format_exc()
    return error


def error_entry(error: JobError) -> dict:
    """The report's `error` object."""
    return {"kind": error.kind, "type": error.type, "message": error.message}


def record_failure(spark: SparkSession, report: dict, error: JobError, report_uri: str | None) -> JobError:
    """Mark the report failed with `error`, attach it to the error and write it (best effort: a
    write failure is kept in `error.report_error`); returns the error to raise."""
    report["status"] = FAILED
    report["finishedAt"] = utc_now_iso()
    report["error"] = error_entry(error)
    error.report = report
    if report_uri is not None and error.type != "ReportWriteFailed":
        try:
            write_report(spark, report_uri, report)
        except Exception as exc:  # noqa: BLE001 - the job error is what matters
            error.report_error = one_line(exc)
    return error


def write_final_report(spark: SparkSession, report_uri: str, report: dict) -> None:
    """Write a finished report; a failure to do so is retryable (the outputs are all written)."""
    try:
        write_report(spark, report_uri, report)
    except Exception as exc:
        raise RetryableJobError(f"writing the report failed: {one_line(exc)}", type="ReportWriteFailed") from exc
