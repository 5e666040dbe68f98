"""The session settings a run needs, set for the run and restored afterwards.

`JOB_CONF`: no ANSI mode, UTC, dates and timestamps read and written as they are, timestamps
written as INT64 microseconds. A long-lived session (a worker, Spark Connect) runs many jobs, so
`session_conf` puts back whatever the session had before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

JOB_CONF = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    # Dates and timestamps are proleptic Gregorian as written (pyarrow, Impala, Spark 3+): read and
    # write them as they are. Spark 3.5's default (EXCEPTION) fails a file holding 0001-01-01 or
    # INT96 timestamps before 1900 when no Spark wrote it.
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    # Write timestamps as INT64 microseconds, not Spark's default INT96 (deprecated in Parquet):
    # pyarrow and pandas read INT96 as nanoseconds and get years outside 1677-2262 wrong.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}

# A file up to this size is cached uncompressed (Spark's in-memory cache compresses by default):
# for a file of a few MB the compression costs more time than the memory it saves is worth.
SMALL_FILE_BYTES = 64 * 1024 * 1024
SMALL_FILE_CONF = {"spark.sql.inMemoryColumnarStorage.compressed": "false"}
# A file up to this size is cleaned and checked in one task (`coalesce(1)`): dropping duplicate
# rows then needs no shuffle, and cleaned/ and quarantine/ get one file each. Spark reads such a
# file in one task anyway (one split); only the stage after the shuffle loses its parallelism.
ONE_TASK_FILE_BYTES = 16 * 1024 * 1024


def is_small(size_bytes: int | None) -> bool:
    return size_bytes is not None and size_bytes <= SMALL_FILE_BYTES


def is_one_task(size_bytes: int | None) -> bool:
    return size_bytes is not None and size_bytes <= ONE_TASK_FILE_BYTES


@contextmanager
def session_conf(spark: SparkSession, settings: dict[str, str]) -> Iterator[None]:
    """Set `settings` for the block; restore (or unset) each one afterwards."""
    previous = {k: spark.conf.get(k, None) for k in settings}
    for k, v in settings.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


@contextmanager
def job_session(app_name: str) -> Iterator[SparkSession]:
    """The session someone else owns (a worker, a test, Spark Connect), left running; else a new
    one named `app_name`, stopped afterwards."""
    spark = SparkSession.getActiveSession()
    owned = spark is None
    if owned:
        spark = SparkSession.builder.appName(app_name).getOrCreate()
    try:
        yield spark
    finally:
        if owned:
            spark.stop()
