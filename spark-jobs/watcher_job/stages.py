"""The per-file stages both forms of the job run on one raw file: clean, check, write the
zones, and the file's contribution to curated (the single form in `job.py`, the batch form in
`batch.py`). Each builds DataFrames; the callers decide what runs when and what is cached.
"""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from watcher_job.cleaning import clean
from watcher_job.columns import ERRORS
from watcher_job.curation import add_partition_columns, deduplicate
from watcher_job.spec import Spec, check_rows, failed_rows, passed_rows

# The failed-or-not flag of a checked row, as the counting queries group by it.
FAILED = "failed"


def cleaned_rows(raw: DataFrame, key: str, etag: str, spec: Spec, *, one_task: bool) -> DataFrame:
    """The raw rows cleaned, with lineage (analysis only: no data is touched).

    `_ingested_at` is the file source's `_metadata.file_modification_time`: the raw object's
    modification time, so reprocessing the same version gives the same rows.
    """
    rows = raw.coalesce(1) if one_task else raw
    modified = F.col("_metadata.file_modification_time")
    return rows.transform(clean(key, etag, modified, spec.null_tokens))


def checked_rows(cleaned: DataFrame, spec: Spec) -> DataFrame:
    """Typed, with `_errors`; persisted (the caller unpersists), since the counts, both zones and
    the contribution to curated read it."""
    return cleaned.transform(check_rows(spec)).persist(StorageLevel.MEMORY_AND_DISK)


def failed_flag(checked: DataFrame):
    return (F.size(ERRORS) > 0).alias(FAILED)


def outcome_counts(rows) -> tuple[int, int]:
    """(cleaned, quarantined) from rows of a `groupBy(failed).count()`."""
    by_state = {bool(r[FAILED]): int(r["count"]) for r in rows}
    quarantined = by_state.get(True, 0)
    return quarantined + by_state.get(False, 0), quarantined


def write_zones(checked: DataFrame, cleaned_uri: str, quarantine_uri: str) -> None:
    """Write the passed rows to cleaned/ and the failed ones to quarantine/ (each rewritten whole)."""
    write_cleaned(checked, cleaned_uri)
    write_quarantine(checked, quarantine_uri)


# A zone's Parquet writer tries a dictionary for every column until it passes this size (1 MB by
# default): for a column of mostly distinct values (ids, free text) in a file of tens of thousands
# of rows, it hashes every value and keeps a dictionary that saves nothing. At 64 KB such columns
# fall back to plain encoding early, and repetitive ones (codes, lineage) keep theirs. Measured on
# 200 zone writes of 20,000 bench rows each: 29% less CPU, 4% more bytes (BENCHMARKS.md).
ZONE_WRITE_OPTIONS = {"parquet.dictionary.page.size": str(64 * 1024)}


def write_zone(rows: DataFrame, uri: str) -> None:
    """Write `rows` as a zone folder (cleaned/ or quarantine/ of one file), rewritten whole."""
    rows.write.mode("overwrite").options(**ZONE_WRITE_OPTIONS).parquet(uri)


def write_cleaned(checked: DataFrame, uri: str) -> None:
    write_zone(checked.transform(passed_rows), uri)


def write_quarantine(checked: DataFrame, uri: str) -> None:
    write_zone(checked.transform(failed_rows), uri)


def contribution(checked: DataFrame, spec: Spec, *, per_source: bool = False) -> DataFrame:
    """What the file offers to curated: its passed rows, partition columns added, deduplicated
    within the file (by keys, or exact rows). `per_source`: `checked` holds the rows of many
    files, each deduplicated within itself."""
    return (
        checked.transform(passed_rows)
        .transform(add_partition_columns(spec.partition_by))
        .transform(deduplicate(spec.keys, spec.order_by, per_source=per_source))
    )
