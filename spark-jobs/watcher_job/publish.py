"""Publishing a Parquet merge into `curated/<dataset>/` so that a job killed midway loses nothing.

Spark overwrites an output by deleting it first (a whole folder, or with dynamic partition
overwrite each partition folder it replaces) and writing after; a job killed in between (a
timeout, SIGTERM past the grace, an OOM, a lost claim, an EMR cancel) would leave curated, or
some of its partitions, empty, and the next run would merge into what is left. So the Parquet
merge is published as a redo log, through the dataset's staging folder
(`metadata/staging/curated/<dataset>/`):

1. the merged rows are written to `rows/` there (a Spark output: committed whole, or not at all);
2. a publish record `publish/` says `pending`, with the run's tag, the partition columns and the
   folders to empty;
3. curated is overwritten from the staged rows (whole, or their partitions with dynamic partition
   overwrite; each folder to empty gets a zero-row file), then the record says `published`.

Every run of the dataset, before it looks at curated, finishes a publish that is still pending
(`finish_publish`): curated comes back to the complete result of the interrupted merge. The
versions that merge held were not recorded (the job died before its report), so they are merged
again, and a merge replaces their rows: nothing is lost and nothing is doubled. A kill while the
record itself is rewritten leaves no record, which is right either way: step 3 had not begun, or
had ended. The DataFrame API does all of it, so it runs over Spark Connect as well.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from watcher_job.lake import escape_glob, join_uri
from watcher_job.sparkio import NOT_FOUND_MARKERS, SPARK_ERRORS, has_marker

PENDING, PUBLISHED = "pending", "published"
_RECORD = StructType(
    [
        StructField("state", StringType()),
        StructField("tag", StringType()),
        StructField("partitionBy", ArrayType(StringType())),
        StructField("empty", ArrayType(StringType())),
    ]
)


@dataclass(frozen=True)
class Publish:
    """What step 3 does: curated's partition columns (none: the table is rewritten whole) and the
    partition folders that end up with no rows."""

    tag: str
    partition_by: list[str]
    empty: list[str]


def staged_rows_uri(staging_uri: str) -> str:
    return join_uri(staging_uri, "rows")


def _record_uri(staging_uri: str) -> str:
    return join_uri(staging_uri, "publish")


def stage(merged: DataFrame, staging_uri: str) -> DataFrame:
    """Step 1: write the merged rows to the staging folder; returns them as read back from there."""
    uri = staged_rows_uri(staging_uri)
    merged.write.mode("overwrite").parquet(uri)
    return merged.sparkSession.read.schema(merged.schema).parquet(escape_glob(uri))


def publish(spark: SparkSession, staged: DataFrame, curated_uri: str, staging_uri: str, step: Publish) -> None:
    """Steps 2 and 3: record the publish as pending, overwrite curated from `staged`, mark it published."""
    _write_record(spark, staging_uri, PENDING, step)
    _overwrite(spark, staged, curated_uri, step)
    _write_record(spark, staging_uri, PUBLISHED, step)


def finish_publish(spark: SparkSession, curated_uri: str, staging_uri: str) -> str | None:
    """Finish the publish an earlier run of the dataset left pending (it was killed in step 3);
    returns that run's tag, or None when there was nothing to finish."""
    step = _pending(spark, staging_uri)
    if step is None:
        return None
    print(f"curated {curated_uri}: finishing the publish of {step.tag}, interrupted", file=sys.stderr)
    staged = spark.read.parquet(escape_glob(staged_rows_uri(staging_uri)))
    _overwrite(spark, staged, curated_uri, step)
    _write_record(spark, staging_uri, PUBLISHED, step)
    return step.tag


def _overwrite(spark: SparkSession, staged: DataFrame, curated_uri: str, step: Publish) -> None:
    writer = staged.write.mode("overwrite")
    if step.partition_by:
        writer = writer.option("partitionOverwriteMode", "dynamic").partitionBy(*step.partition_by)
    writer.parquet(curated_uri)
    if step.empty:
        # The DataFrame API cannot delete a folder: an emptied partition keeps one zero-row file.
        data = StructType([f for f in staged.schema.fields if f.name not in step.partition_by])
        empty = spark.createDataFrame([], data)
        for folder in step.empty:
            empty.write.mode("overwrite").parquet(folder)


def _write_record(spark: SparkSession, staging_uri: str, state: str, step: Publish) -> None:
    row = (state, step.tag, list(step.partition_by), list(step.empty))
    spark.createDataFrame([row], _RECORD).coalesce(1).write.mode("overwrite").json(_record_uri(staging_uri))


def _pending(spark: SparkSession, staging_uri: str) -> Publish | None:
    try:
        rows = spark.read.schema(_RECORD).json(escape_glob(_record_uri(staging_uri))).collect()
    except SPARK_ERRORS as exc:
        if has_marker(exc, NOT_FOUND_MARKERS):
            return None
        raise
    pending = [r for r in rows if r["state"] == PENDING]
    if not pending:
        return None
    r = pending[0]
    return Publish(tag=r["tag"] or "", partition_by=_strings(r["partitionBy"]), empty=_strings(r["empty"]))


def _strings(values: Sequence[str] | None) -> list[str]:
    return [str(v) for v in values or []]
