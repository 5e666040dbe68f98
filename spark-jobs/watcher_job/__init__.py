"""The s3-spark-watcher Spark job: raw Parquet file versions -> cleaned, quarantine, curated.

`pipeline.py` (next to this package) is the command-line entry point; `job.run_job` is the
reusable core for a long-lived worker (spark-submit, Spark Connect, EMR Serverless), for one file
(`JobArgs`) or a batch of one dataset's files (`BatchArgs`, `batch.py`).
"""

from watcher_job.batch import BatchArgs
from watcher_job.errors import JobError, PermanentJobError, RetryableJobError
from watcher_job.job import JobArgs, run_job

__all__ = ["BatchArgs", "JobArgs", "JobError", "PermanentJobError", "RetryableJobError", "run_job"]
