"""Reading one raw Parquet file, and what a failure to read it means (permanent or retryable)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from watcher_job.errors import JobError, RetryableJobError, UnreadableInputError
from watcher_job.lake import escape_glob
from watcher_job.sparkio import (
    NOT_FOUND_MARKERS,
    SPARK_ERRORS,
    TRANSIENT_MARKERS,
    UNREADABLE_MARKERS,
    has_marker,
    marked_line,
    one_line,
)


def unreadable(exc: Exception, uri: str) -> JobError | None:
    """What a failure of an action reading the raw file means, when its message says so."""
    if has_marker(exc, TRANSIENT_MARKERS):
        return RetryableJobError(f"reading {uri} failed: {marked_line(exc, TRANSIENT_MARKERS)}", type="ReadFailed")
    if has_marker(exc, NOT_FOUND_MARKERS):
        return UnreadableInputError(
            f"raw object not found: {marked_line(exc, NOT_FOUND_MARKERS)}", type="InputNotFound"
        )
    if has_marker(exc, UNREADABLE_MARKERS):
        return UnreadableInputError(f"not a readable Parquet file: {marked_line(exc, UNREADABLE_MARKERS)}")
    return None


@contextmanager
def reading(uri: str, *, only_marked: bool) -> Iterator[None]:
    """Classify Spark failures of the block as failures to read the raw file at `uri`.

    `only_marked`: pass on errors whose message does not say what went wrong with the file
    (the block does more than read it); otherwise they become retryable ReadFailed.
    """
    try:
        yield
    except SPARK_ERRORS as exc:
        error = unreadable(exc, uri)
        if error is None and only_marked:
            raise
        raise error or RetryableJobError(f"reading {uri} failed: {one_line(exc)}", type="ReadFailed") from exc


def read_schema(spark: SparkSession, uri: str) -> StructType:
    """The raw file's schema, from its footer (a small Spark job of its own)."""
    with reading(uri, only_marked=False):
        return spark.read.parquet(escape_glob(uri)).schema


def read_with_schema(spark: SparkSession, uri: str, schema: StructType) -> DataFrame:
    """The raw file read with its known schema: later analyses of the plan skip the footer read,
    which Spark runs as a job of its own each time."""
    with reading(uri, only_marked=False):  # lists the file: it may be gone by now
        return spark.read.schema(schema).parquet(escape_glob(uri))


@dataclass(frozen=True)
class RawRead:
    df: DataFrame
    rows: int
    size_bytes: int | None


def count_raw(df: DataFrame, uri: str) -> tuple[int, int | None]:
    """Rows and size of the raw file read as `df` (one small query; the count and `_metadata`
    come from the footer and the file listing, so no data page is decoded)."""
    with reading(uri, only_marked=False):
        row = df.agg(
            F.count(F.lit(1)).alias("rows"),
            F.max(F.col("_metadata.file_size")).alias("size"),
        ).collect()[0]
    return int(row["rows"]), row["size"]


def read_raw(spark: SparkSession, uri: str) -> RawRead:
    """The raw file's schema (from its footer), row count and size.

    The data pages are first decoded by the check, which classifies a corrupt page the same way.
    """
    df = read_with_schema(spark, uri, read_schema(spark, uri))
    rows, size = count_raw(df, uri)
    return RawRead(df=df, rows=rows, size_bytes=size)
