"""The s3-spark-watcher Spark job: one raw Parquet file version -> cleaned, quarantine, curated.

`pipeline.py` (next to this package) is the command-line entry point; `job.run_job` is the
reusable core for a long-lived worker (spark-submit, Spark Connect, EMR Serverless).
"""

from watcher_job.errors import JobError, PermanentJobError, RetryableJobError
from watcher_job.job import JobArgs, run_job

__all__ = ["JobArgs", "JobError", "PermanentJobError", "RetryableJobError", "run_job"]
