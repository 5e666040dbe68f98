"""The run report: one JSON object per run, read by the controller.

Single form, success: {runId, key, etag, dataset, status: "succeeded", rows: {read, cleaned,
quarantined, curated}, outputs: {cleaned, quarantine, curated}, startedAt, finishedAt,
sparkVersion, pythonVersion, timingsMs}.
Failure: the same with status "failed" and error: {kind, type, message}; rows/outputs hold what
was known when it failed (rows values may be null).
Batch form (`batch.py`): {runId, dataset, manifest, status, files: [one entry per manifest file,
each {key, etag, status, rows, outputs, error?}], rows (totals over the succeeded files),
outputs: {curated}, startedAt, finishedAt, sparkVersion, pythonVersion, timingsMs, error?}.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from pyspark.sql import SparkSession

from watcher_job.lake import local_path

SUCCEEDED = "succeeded"
FAILED = "failed"


def utc_now_iso() -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, e.g. 2024-05-01T10:00:00.123Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def versions(spark: SparkSession) -> dict:
    """`sparkVersion` and `pythonVersion` (the driver's) for a report."""
    try:
        version = spark.version
    except Exception:  # noqa: BLE001 - the report must not fail on this
        version = None
    return {"sparkVersion": version, "pythonVersion": platform.python_version()}


@contextmanager
def phase(report: dict, name: str) -> Iterator[None]:
    """Adds the wall time of the block to `report["timingsMs"][name]` (where a run's time goes)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings = report.setdefault("timingsMs", {})
        timings[name] = timings.get(name, 0) + round((time.perf_counter() - start) * 1000)


def to_json(report: dict) -> str:
    return json.dumps(report, separators=(",", ":"), sort_keys=False)


def write_report(spark: SparkSession, uri: str, report: dict) -> None:
    """Write the report to a `file:` URI atomically, or to `s3://`/`s3a://` through Spark."""
    path = local_path(uri)
    if path is not None:
        _write_local_atomically(path, to_json(report) + "\n")
        return
    # No boto3 and no Hadoop FileSystem handle here: the job must run over Spark Connect and
    # on EMR Serverless with only the DataFrame API, and Spark already holds the S3
    # credentials. So the report becomes a folder `<uri>/` with one part file holding the one
    # JSON line; the controller reads either form.
    df = spark.createDataFrame([(to_json(report),)], "value string")
    df.coalesce(1).write.mode("overwrite").text(uri)


def _write_local_atomically(path: str, text: str) -> None:
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
