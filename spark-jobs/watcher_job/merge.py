"""Merging one file's passed rows into `curated/<dataset>/` (the I/O half of curation).

1. Read curated (if any) with the merged schema of all its files (`mergeSchema`, because
   partitions written before a widening keep the narrower schema), then re-read it with an
   explicit schema so partition column types come from the new rows, not from inference.
2. Refuse a column type conflict or a changed partitioning (permanent).
3. Affected partitions = partitions of the new rows U partitions holding rows of this
   `_source_key` (any ETag) U, with `keys`, partitions holding any key of the new rows (a key
   whose partition value changed must leave its old partition, or curated would hold it twice).
   Their existing rows, minus this source key's rows, are unioned with the new rows
   (`unionByName(allowMissingColumns=True)`) and deduplicated.
4. Spark cannot overwrite a path it is reading in the same job, so the merged rows are first
   written to a per-dataset staging folder (`metadata/staging/curated/<dataset>/`, overwritten
   by every run of the dataset, so it never holds more than one merge), read back, and then
   written to curated with dynamic partition overwrite (only the affected partitions change;
   without `partitionBy` the whole table is rewritten).
5. An affected partition left with no rows has nothing to write, and the DataFrame API cannot
   delete files; such a folder is overwritten with a zero-row Parquet file instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from watcher_job.columns import SOURCE_KEY, col
from watcher_job.curation import align_columns, check_compatible, deduplicate
from watcher_job.errors import CuratedConflictError
from watcher_job.lake import escape_glob
from watcher_job.sparkio import NOT_FOUND_MARKERS, SPARK_ERRORS, has_marker, one_line
from watcher_job.spec import Spec

_EMPTY_MARKERS = (*NOT_FOUND_MARKERS, "UNABLE_TO_INFER_SCHEMA", "Unable to infer schema")
_FILE = "__file"


@dataclass(frozen=True)
class CuratedTable:
    df: DataFrame
    data_schema: StructType


def _path_segments(uri: str, *, encoded: bool) -> list[str]:
    path = urlparse(uri).path
    if encoded:
        path = unquote(path)
    return [s for s in path.split("/") if s]


def read_curated(
    spark: SparkSession, uri: str, new_schema: StructType, partition_names: list[str]
) -> CuratedTable | None:
    """The existing curated table, or None when there is none yet."""
    try:
        probe = spark.read.option("mergeSchema", "true").parquet(escape_glob(uri))
        merged_schema = probe.schema
        files = probe.inputFiles()
    except SPARK_ERRORS as exc:
        if has_marker(exc, _EMPTY_MARKERS):
            return None
        if has_marker(exc, ("Failed to merge", "CANNOT_MERGE", "Conflicting")):
            raise CuratedConflictError(f"curated table {uri} cannot be read consistently: {one_line(exc)}") from exc
        raise
    if not files:
        return None
    depth = len(_path_segments(uri, encoded=False))
    sample = _path_segments(files[0], encoded=True)[depth:-1]
    existing_partitions = [s.split("=", 1)[0] for s in sample]
    if existing_partitions != partition_names:
        raise CuratedConflictError(
            f"curated table {uri} is partitioned by {existing_partitions} but the spec says {partition_names}",
            type="CuratedPartitioningConflict",
        )
    data_fields = [f for f in merged_schema.fields if f.name not in partition_names]
    data_schema = StructType(data_fields)
    read_schema = StructType(data_fields + [new_schema[p] for p in partition_names])
    df = spark.read.schema(read_schema).parquet(escape_glob(uri))
    return CuratedTable(df=df, data_schema=data_schema)


def _null_safe_semi(left: DataFrame, right: DataFrame, names: list[str], how: str) -> DataFrame:
    renamed = right.select(*[col(n).alias(f"__p{i}") for i, n in enumerate(names)])
    cond = reduce(lambda a, b: a & b, [left[n].eqNullSafe(renamed[f"__p{i}"]) for i, n in enumerate(names)])
    return left.join(renamed, cond, how)


def merge_into_curated(
    spark: SparkSession,
    new_rows: DataFrame,
    *,
    curated_uri: str,
    staging_uri: str,
    key: str,
    spec: Spec,
) -> None:
    """Merge `new_rows` (passed, partition columns added, deduplicated) into curated."""
    parts = list(spec.partition_names)
    existing = read_curated(spark, curated_uri, new_rows.schema, parts)
    affected: DataFrame | None = None
    if existing is None:
        merged = new_rows
    else:
        check_compatible(existing.data_schema, new_rows.schema, ignore=parts)
        scope = existing.df
        if parts:
            affected = existing.df.filter(col(SOURCE_KEY) == key).select(*parts).unionByName(new_rows.select(*parts))
            if spec.keys:
                keys = list(spec.keys)
                same_keys = _null_safe_semi(existing.df, new_rows.select(*keys).distinct(), keys, "left_semi")
                affected = affected.unionByName(same_keys.select(*parts))
            affected = affected.distinct()
            scope = _null_safe_semi(existing.df, affected, parts, "left_semi")
        kept = scope.filter(col(SOURCE_KEY) != key)
        merged = kept.unionByName(new_rows, allowMissingColumns=True).transform(deduplicate(spec.keys, spec.order_by))
        merged = align_columns(merged, [f.name for f in existing.data_schema.fields] + new_rows.columns)

    writer = merged.write.mode("overwrite")
    if parts:
        writer = writer.partitionBy(*parts)
    writer.parquet(staging_uri)
    staged = spark.read.schema(merged.schema).parquet(escape_glob(staging_uri))

    stale_dirs: list[str] = []
    if existing is not None and affected is not None:
        with_file = existing.df.select(*parts, F.col("_metadata.file_path").alias(_FILE))
        in_scope = _null_safe_semi(with_file, affected, parts, "left_semi")
        orphaned = _null_safe_semi(in_scope, staged.select(*parts).distinct(), parts, "left_anti")
        paths = {row[0] for row in orphaned.select(_FILE).distinct().collect()}
        stale_dirs = sorted({unquote(p).rsplit("/", 1)[0] for p in paths})

    out = staged.write.mode("overwrite")
    if parts:
        out = out.option("partitionOverwriteMode", "dynamic").partitionBy(*parts)
    out.parquet(curated_uri)

    if stale_dirs:
        empty_schema = StructType([f for f in staged.schema.fields if f.name not in parts])
        empty = spark.createDataFrame([], empty_schema)
        for folder in stale_dirs:
            # Stands in for a delete: the folder keeps one zero-row file with the schema.
            empty.write.mode("overwrite").parquet(folder)
