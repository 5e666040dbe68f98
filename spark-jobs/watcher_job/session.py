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

# A run's checked rows stay in Spark's cache (memory, then disk) until its merge is done. Spark
# compresses that cache by default, which for a file of a few MB costs more time than the memory
# it saves; but uncompressed, rows take about 20-25 times their Parquet bytes, and a cache that
# does not fit spills to disk and thrashes the collector. So a run caches uncompressed while its
# raw input is at most 1/32 of the heap that holds the cache (the driver's in local mode, an
# executor's on a cluster). Measured with one cold spark-submit batch of 100 files of 1.09 MB
# (4 M rows, 109 MB; BENCHMARKS.md): uncompressed 191.6 s in a 2g driver, 98.1 s in 3g, 95.6 s in
# 4g; compressed 112.8 s in 2g, 104.9 s in 3g, 103.8 s in 4g.
UNCOMPRESSED_CACHE_SHARE = 32
UNCOMPRESSED_CACHE_CONF = {"spark.sql.inMemoryColumnarStorage.compressed": "false"}
_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
# A file up to this size is cleaned and checked in one task (`coalesce(1)`): dropping duplicate
# rows then needs no shuffle, and cleaned/ and quarantine/ get one file each. Spark reads such a
# file in one task anyway (one split); only the stage after the shuffle loses its parallelism.
ONE_TASK_FILE_BYTES = 16 * 1024 * 1024


def memory_bytes(text: str | None, default: str = "1g") -> int:
    """A JVM memory size as Spark's `spark.*.memory` settings take it (`512m`, `2g`, `4096`: MiB
    without a unit) in bytes; `default` when unset or unreadable."""
    value = (text or default).strip().lower() or default
    if len(value) > 1 and value.endswith("b") and value[-2] in _UNITS:  # 2gb, 512mb
        value = value[:-1]
    unit = value[-1] if value[-1] in _UNITS else "m"
    number = value[:-1] if value[-1] in _UNITS else value
    try:
        return int(float(number) * _UNITS[unit])
    except ValueError:
        return memory_bytes(default)


def cache_heap_bytes(spark: SparkSession) -> int:
    """The heap that holds a run's cache: the driver's with a local master (also behind Spark
    Connect: the server's), else an executor's (Spark's default for either: 1g)."""
    local = (spark.conf.get("spark.master", None) or "local").startswith("local")
    return memory_bytes(spark.conf.get("spark.driver.memory" if local else "spark.executor.memory", None))


def cache_conf(spark: SparkSession, raw_bytes: int | None) -> dict[str, str]:
    """The settings to cache `raw_bytes` of raw input with (see UNCOMPRESSED_CACHE_SHARE); an
    unknown size is cached compressed."""
    fits = raw_bytes is not None and raw_bytes * UNCOMPRESSED_CACHE_SHARE <= cache_heap_bytes(spark)
    return UNCOMPRESSED_CACHE_CONF if fits else {}


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
