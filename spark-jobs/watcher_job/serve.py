"""One request of the long-lived worker: the job's contract arguments in, a reply dict out.

A reply keeps the contract's meaning (DESIGN.md) without a process exit:
`exitCode` 0 (done, with the report), 2 (permanent) or 1 (retryable), the error's kind, type and
message, and `connectionLost` when the Spark Connect server stopped answering, so the controller
can run the same version elsewhere and stop sending work to this server.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession

from watcher_job.batch import BatchArgs
from watcher_job.errors import JobError, PermanentJobError, RetryableJobError
from watcher_job.job import JobArgs, run_job

EXIT_OK = 0
EXIT_RETRYABLE = 1
EXIT_PERMANENT = 2

# What a gRPC channel says when the Connect server is gone (killed, restarting, unreachable).
CONNECTION_LOST_MARKERS = (
    "StatusCode.UNAVAILABLE",
    "failed to connect to all addresses",
    "Connection refused",
    "Socket closed",
    "Connection reset",
    "recvmsg:Connection reset",
    "Broken pipe",
    "[NO_ACTIVE_SESSION]",
    "INVALID_HANDLE.SESSION_CLOSED",
    "INVALID_HANDLE.SESSION_CHANGED",
)


def connection_lost(error: BaseException) -> bool:
    """True when the error (or a cause of it) says the Connect server cannot be reached."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        text = f"{type(e).__name__}: {e}"
        if any(marker in text for marker in CONNECTION_LOST_MARKERS):
            return True
        e = e.__cause__ or e.__context__
    return False


def parse_request(message: Any) -> tuple[str, JobArgs | BatchArgs]:
    """`{"id": str, "job": {"lake", "key", "etag", "runId", "spec"?, "report"?}}` -> (id, JobArgs), or
    `{"id": str, "job": {"lake", "manifest", "runId", "spec"?, "report"?}}` -> (id, BatchArgs)."""
    if not isinstance(message, dict) or not isinstance(message.get("id"), str):
        raise ValueError('a request is {"id": "<string>", "job": {...}}')
    if not isinstance(message.get("job"), dict):
        raise ValueError('a request is {"id": "<string>", "job": {...}}')
    job = message["job"]
    batch = job.get("manifest") is not None
    if batch and (job.get("key") is not None or job.get("etag") is not None):
        raise ValueError("job.manifest and job.key/job.etag are mutually exclusive: give one form")
    for field in ("lake", "manifest", "runId") if batch else ("lake", "key", "etag", "runId"):
        if not isinstance(job.get(field), str):
            raise ValueError(f"job.{field} must be a string")
    for field in ("spec", "report"):
        if job.get(field) is not None and not isinstance(job[field], str):
            raise ValueError(f"job.{field} must be a string (the spec as JSON text)")
    if batch:
        return message["id"], BatchArgs(
            lake=job["lake"],
            manifest=job["manifest"],
            run_id=job["runId"],
            spec=job.get("spec"),
            report=job.get("report"),
        )
    return message["id"], JobArgs(
        lake=job["lake"],
        key=job["key"],
        etag=job["etag"],
        run_id=job["runId"],
        spec=job.get("spec"),
        report=job.get("report"),
    )


def handle(spark: SparkSession, request_id: str, args: JobArgs | BatchArgs) -> dict:
    """Run one job (one file or a batch) in `spark` and describe the outcome; never raises for a
    job failure. A batch whose files failed still replies exit 0: its report says which."""
    try:
        report = run_job(spark, args)
        return {"type": "result", "id": request_id, "exitCode": EXIT_OK, "report": report}
    except JobError as error:
        lost = connection_lost(error)
        return {
            "type": "result",
            "id": request_id,
            "exitCode": EXIT_PERMANENT if isinstance(error, PermanentJobError) and not lost else EXIT_RETRYABLE,
            "kind": RetryableJobError.kind if lost else error.kind,
            "errorType": "ConnectionLost" if lost else error.type,
            "message": " ".join(error.message.split()),
            "connectionLost": lost,
            "report": error.report,
        }
