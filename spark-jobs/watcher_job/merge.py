"""Merging the passed rows of one or more files into `curated/<dataset>/` (the I/O half of curation).

`probe_curated` says what curated is: a Delta Lake table (merged by `delta_table.py`, one MERGE
per run, the default for a new table), a Parquet table (merged here, as below), or nothing yet.
`merge_into_curated` picks the merge by that and the spec's `tableFormat`. The rest of this
docstring is the Parquet merge.

`keys` are the source keys (`_source_key`) of the files whose rows `new_rows` holds: one for the
single form, every succeeded file of the batch for the batch form (which merges once per batch).
Whatever curated holds from those source keys (any ETag) is replaced by `new_rows`.

1. Read the footers of curated (if any) for the merged schema of all its files (`mergeSchema`,
   because partitions written before a widening keep the narrower schema; `probe_curated`, which
   the job runs while it checks the new rows), then read it with an explicit schema so partition
   column types come from the new rows, not from inference.
2. Refuse a column type conflict or a changed partitioning (permanent).
3. Affected partitions = partitions of the new rows U partitions holding rows of these
   `_source_key`s (any ETag) U, with spec `keys`, partitions holding any key of the new rows (a
   key whose partition value changed must leave its old partition, or curated would hold it
   twice), collected with one small query that also counts the new rows per source key. Their
   existing rows (read through a filter on the partition values, so only those folders are
   read), minus these source keys' rows, are unioned with the new rows
   (`unionByName(allowMissingColumns=True)`) and deduplicated.
4. The result is staged (`metadata/staging/curated/<dataset>/rows/`), then published into
   curated (`publish.py`): a table without `partitionBy` is overwritten whole, a partitioned one
   with dynamic partition overwrite (only the partitions written change). A publish is recorded
   before it starts and finished by the next run if a kill interrupted it, so a killed job never
   leaves curated, or a partition of it, empty.
5. An affected partition left with no rows has nothing to write (a dynamic overwrite would keep
   its old files), and the DataFrame API cannot delete files; such a folder is overwritten with
   a zero-row Parquet file instead. Only partitions that get no new rows can end up so, and only
   then are the staged rows' partitions listed.

One merge of many files (the batch form) equals merging them one by one in order, since
deduplication keeps the greatest row of a total order whatever the grouping, with one exception
when a file REPLACES a source key already in curated: one by one, an earlier file's row for a
key k can lose to that source key's OLD row and is dropped for good; when the new version then
no longer has k, k is gone. The batch removes the old rows of all its source keys first, so
that earlier row survives: the batch keeps what the current versions of the files imply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from watcher_job.columns import SOURCE_KEY, all_of, any_of, col, quote
from watcher_job.curation import align_columns, check_compatible, deduplicate, widen_to
from watcher_job.delta_table import DeltaState, DeltaUnavailableError, create_table, merge_into_delta, probe_delta
from watcher_job.errors import CuratedConflictError
from watcher_job.lake import escape_glob
from watcher_job.publish import Publish, finish_publish, publish, stage
from watcher_job.sparkio import NOT_FOUND_MARKERS, SPARK_ERRORS, has_marker, one_line
from watcher_job.spec import Spec

_EMPTY_MARKERS = (*NOT_FOUND_MARKERS, "UNABLE_TO_INFER_SCHEMA", "Unable to infer schema")
_NEW = "__new_rows"
_SRC = "__source_key"
# More affected partitions than this are matched with a join instead of a filter on their values.
_MAX_PRUNED_PARTITIONS = 200


@dataclass(frozen=True)
class CuratedFiles:
    """What an existing curated table is (`probe_curated`): for Parquet, what its footers say."""

    merged_schema: StructType
    """The schema merged over all its files (a Delta table's schema), partition columns included."""
    partition_names: list[str]
    """The partition columns, outermost first, from the folder names of one file (Delta: its log)."""
    delta: DeltaState | None = None
    """A Delta Lake table's state; None for a Parquet table."""


@dataclass(frozen=True)
class CuratedTable:
    df: DataFrame
    data_schema: StructType
    partition_schema: StructType
    """The partition columns as `df` reads them (typed like the new rows)."""


def _path_segments(uri: str, *, encoded: bool) -> list[str]:
    path = urlparse(uri).path
    if encoded:
        path = unquote(path)
    return [s for s in path.split("/") if s]


def probe_curated(spark: SparkSession, uri: str, table_format: str | None = None) -> CuratedFiles | None:
    """What the curated table at `uri` is (None when there is none yet): a Delta table's schema,
    partitioning and state, or a Parquet table's footers. `table_format` is the spec's
    `tableFormat`: a table of the other format is refused (CuratedConflictError).

    Independent of the new rows, so the job runs it while it checks them.
    """
    try:
        delta = probe_delta(spark, uri)
    except DeltaUnavailableError:
        if table_format == "parquet":
            delta = None  # a Parquet dataset on a session without Delta: nothing to look for
        else:
            raise
    if delta is not None:
        if table_format == "parquet":
            raise CuratedConflictError(
                f'curated table {uri} is a Delta Lake table but the spec says tableFormat "parquet";'
                ' remove tableFormat (or set it to "delta") to keep merging into it',
                type="CuratedFormatConflict",
            )
        schema, partition_names, state = delta
        return CuratedFiles(merged_schema=schema, partition_names=partition_names, delta=state)
    files = _probe_parquet(spark, uri)
    if files is not None and table_format == "delta":
        raise CuratedConflictError(
            f'curated table {uri} is a Parquet table but the spec says tableFormat "delta": convert it in place'
            f" first, with `s3-spark-watcher curated convert {uri.rstrip('/').rsplit('/', 1)[-1]}` or with no"
            f" controller running on the dataset (Spark SQL: {convert_statement(uri, files)}),"
            " or remove tableFormat to keep it Parquet",
            type="CuratedFormatConflict",
        )
    return files


def probe_settled(
    spark: SparkSession, uri: str, staging_uri: str, table_format: str | None = None
) -> CuratedFiles | None:
    """`probe_curated`, once a publish an earlier run left pending has been finished (`publish.py`)."""
    finish_publish(spark, uri, staging_uri)
    return probe_curated(spark, uri, table_format)


def convert_statement(uri: str, files: CuratedFiles) -> str:
    """The Spark SQL that converts the Parquet table at `uri` into a Delta table in place."""
    parts = [f"{quote(n)} {files.merged_schema[n].dataType.simpleString()}" for n in files.partition_names]
    return f"CONVERT TO DELTA parquet.{quote(uri)}" + (f" PARTITIONED BY ({', '.join(parts)})" if parts else "")


def _probe_parquet(spark: SparkSession, uri: str) -> CuratedFiles | None:
    """Read the footers of the Parquet curated table at `uri` (None when there is none)."""
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
    return CuratedFiles(merged_schema=merged_schema, partition_names=[s.split("=", 1)[0] for s in sample])


def check_partitioning(uri: str, files: CuratedFiles | None, partition_names: Sequence[str]) -> None:
    """Refuse a spec whose `partitionBy` differs from the existing table's partitioning."""
    if files is not None and files.partition_names != list(partition_names):
        raise CuratedConflictError(
            f"curated table {uri} is partitioned by {files.partition_names} but the spec says {list(partition_names)}",
            type="CuratedPartitioningConflict",
        )


def read_curated(
    spark: SparkSession, uri: str, files: CuratedFiles | None, new_schema: StructType, partition_names: list[str]
) -> CuratedTable | None:
    """The existing curated table (its footers probed as `files`), or None when there is none yet."""
    if files is None:
        return None
    check_partitioning(uri, files, partition_names)
    merged_schema = files.merged_schema
    data_fields = [f for f in merged_schema.fields if f.name not in partition_names]
    data_schema = StructType(data_fields)
    partition_schema = StructType([new_schema[p] for p in partition_names])
    df = spark.read.schema(StructType(data_fields + partition_schema.fields)).parquet(escape_glob(uri))
    return CuratedTable(df=df, data_schema=data_schema, partition_schema=partition_schema)


def _null_safe_semi(left: DataFrame, right: DataFrame, names: list[str], how: str) -> DataFrame:
    # The right side's columns are renamed `__p<i>` (no data column starts with `_`), so plain
    # names resolve to one side each: no `df[name]`, which costs a schema round trip on Connect.
    renamed = right.select(*[col(n).alias(f"__p{i}") for i, n in enumerate(names)])
    cond = all_of([col(n).eqNullSafe(F.col(f"__p{i}")) for i, n in enumerate(names)])
    return left.join(renamed, cond, how)


def _from_sources(keys: Sequence[str]):
    """Rows whose `_source_key` is one of `keys` (one key: an equality, as Spark optimizes it anyway)."""
    keys = list(keys)
    return col(SOURCE_KEY) == keys[0] if len(keys) == 1 else col(SOURCE_KEY).isin(keys)


def _merged(
    scope: DataFrame, new_rows: DataFrame, existing: CuratedTable, keys: Sequence[str], spec: Spec
) -> DataFrame:
    """`scope` minus these source keys' rows, plus the new rows, deduplicated, columns in table order."""
    kept = scope.filter(~_from_sources(keys))
    merged = kept.unionByName(new_rows, allowMissingColumns=True).transform(deduplicate(spec.keys, spec.order_by))
    return align_columns(merged, [f.name for f in existing.data_schema.fields] + new_rows.columns)


@dataclass(frozen=True)
class MergeResult:
    offered: dict[str, int]
    """Rows of `new_rows` per `_source_key` (a key with no rows is absent), counted by a query
    the merge runs anyway where it can."""


@dataclass(frozen=True)
class _Partition:
    """One partition as its values cast to string (None for null), and how many new rows land in it."""

    values: tuple[str | None, ...]
    new_rows: int


def _as_strings(parts: list[str]) -> list:
    """The partition columns cast to string as `__p0, __p1, ...`: comparable in Python, and cast back exactly."""
    return [col(p).cast("string").alias(f"__p{i}") for i, p in enumerate(parts)]


def _offered(new_rows: DataFrame) -> dict[str, int]:
    return {r[SOURCE_KEY]: int(r["count"]) for r in new_rows.groupBy(col(SOURCE_KEY)).count().collect()}


def _affected_partitions(
    existing: DataFrame, new_rows: DataFrame, keys: Sequence[str], spec: Spec
) -> tuple[list[_Partition], dict[str, int]]:
    """Partitions of the new rows U partitions holding rows of these source keys U (with spec
    keys) those holding any key of the new rows, and the new rows per source key; one small query
    over the partition and key columns."""
    parts = list(spec.partition_names)
    old = existing.filter(_from_sources(keys)).select(*parts)
    if spec.keys:
        row_keys = list(spec.keys)
        same_keys = _null_safe_semi(existing, new_rows.select(*row_keys).distinct(), row_keys, "left_semi")
        old = old.unionByName(same_keys.select(*parts))
    touched = new_rows.select(*parts, F.lit(1).alias(_NEW), col(SOURCE_KEY).alias(_SRC)).unionByName(
        old.select(*parts, F.lit(0).alias(_NEW), F.lit(None).cast("string").alias(_SRC))
    )
    rows = touched.groupBy(*_as_strings(parts), col(_SRC)).agg(F.sum(_NEW).alias(_NEW)).collect()
    per_partition: dict[tuple, int] = {}
    offered: dict[str, int] = {}
    for r in rows:
        values = tuple(r[f"__p{i}"] for i in range(len(parts)))
        per_partition[values] = per_partition.get(values, 0) + int(r[_NEW])
        if r[_SRC] is not None:
            offered[r[_SRC]] = offered.get(r[_SRC], 0) + int(r[_NEW])
    return [_Partition(values, n) for values, n in per_partition.items()], offered


def _in_partitions(table: CuratedTable, partitions: list[_Partition]) -> DataFrame:
    """Rows of the table in the given partitions: a filter on partition columns only, so Spark
    reads just those folders (a semi join for very many partitions, which reads the whole table)."""
    df, schema = table.df, table.partition_schema
    parts = schema.names
    if len(partitions) > _MAX_PRUNED_PARTITIONS:
        as_text = StructType([StructField(f"__s{i}", StringType()) for i in range(len(parts))])
        wanted = df.sparkSession.createDataFrame([p.values for p in partitions], as_text)
        typed = wanted.select(*[col(f"__s{i}").cast(schema[i].dataType).alias(p) for i, p in enumerate(parts)])
        return _null_safe_semi(df, typed, parts, "left_semi")

    def one(p: _Partition):
        # p.values has one value per partition column by construction (_affected_partitions); no
        # zip(strict=True): the job runs on Python 3.9 (EMR 7.x's default).
        return all_of([col(n).eqNullSafe(F.lit(v).cast(schema[n].dataType)) for n, v in zip(parts, p.values)])

    return df.filter(any_of([one(p) for p in partitions]))


def _folders_of(df: DataFrame) -> list[str]:
    paths = {row[0] for row in df.select(F.col("_metadata.file_path")).distinct().collect()}
    return sorted({unquote(p).rsplit("/", 1)[0] for p in paths})


def merge_into_curated(
    spark: SparkSession,
    new_rows: DataFrame,
    *,
    curated: CuratedFiles | None,
    curated_uri: str,
    staging_uri: str,
    keys: Sequence[str],
    spec: Spec,
    tag: str,
) -> MergeResult:
    """Merge `new_rows` (passed, partition columns added, deduplicated within each file) into
    curated, which `probe_curated` looked at (None: no table yet), replacing the rows of the
    source keys `keys` (non-empty; every `_source_key` of `new_rows` is one of them). `tag`
    (`commit_tag`) marks a Delta commit as this run's."""
    parts = list(spec.partition_names)
    if curated is not None:  # a narrower type meets the table's type (checked: it widens)
        new_rows = new_rows.transform(widen_to(curated.merged_schema))
    if (curated.delta is not None) if curated is not None else spec.table_format != "parquet":
        return _merge_delta(spark, new_rows, curated, curated_uri, keys, spec, tag)
    existing = read_curated(spark, curated_uri, curated, new_rows.schema, parts)
    if existing is None:
        # Each file's rows are deduplicated already; the rows of several files are not.
        merged = new_rows
        if len(keys) > 1:
            merged = align_columns(new_rows.transform(deduplicate(spec.keys, spec.order_by)), [])
        writer = merged.write.mode("overwrite")
        if parts:
            writer = writer.option("partitionOverwriteMode", "dynamic").partitionBy(*parts)
        offered = _offered(new_rows)
        writer.parquet(curated_uri)
        return MergeResult(offered=offered)
    check_compatible(existing.data_schema, new_rows.schema, ignore=parts)

    if not parts:
        # The whole table is rewritten, from the staged rows (Spark cannot overwrite a path it reads).
        offered = _offered(new_rows)
        staged = stage(_merged(existing.df, new_rows, existing, keys, spec), staging_uri)
        publish(spark, staged, curated_uri, staging_uri, Publish(tag=tag, partition_by=[], empty=[]))
        return MergeResult(offered=offered)

    affected, offered = _affected_partitions(existing.df, new_rows, keys, spec)
    staged = stage(_merged(_in_partitions(existing, affected), new_rows, existing, keys, spec), staging_uri)
    empty: list[str] = []
    may_empty = [p for p in affected if p.new_rows == 0]
    if may_empty:
        # A partition that held only rows these versions replaced, and gets none back, would keep
        # them after a dynamic overwrite (it writes no file there): find such partitions first.
        present = {tuple(r) for r in staged.select(*_as_strings(parts)).distinct().collect()}
        emptied = [p for p in may_empty if p.values not in present]
        if emptied:
            empty = _folders_of(_in_partitions(existing, emptied))
    # Dynamic partition overwrite replaces only the partitions written.
    publish(spark, staged, curated_uri, staging_uri, Publish(tag=tag, partition_by=parts, empty=empty))
    return MergeResult(offered=offered)


def _merge_delta(
    spark: SparkSession,
    new_rows: DataFrame,
    curated: CuratedFiles | None,
    uri: str,
    keys: Sequence[str],
    spec: Spec,
    tag: str,
) -> MergeResult:
    parts = list(spec.partition_names)
    # Each file's rows are deduplicated already; the rows of several files are not.
    source = new_rows
    if len(keys) > 1:
        source = align_columns(new_rows.transform(deduplicate(spec.keys, spec.order_by)), [])
    offered = _offered(new_rows)
    if curated is None or curated.delta is None:
        create_table(source, uri, parts, tag)
        return MergeResult(offered=offered)
    check_partitioning(uri, curated, parts)
    check_compatible(curated.merged_schema, new_rows.schema)  # a Delta table's partition column types are fixed too
    merge_into_delta(
        spark,
        source,
        uri=uri,
        table=curated.merged_schema,
        state=curated.delta,
        keys=keys,
        spec_keys=spec.keys,
        order_by=spec.order_by,
        tag=tag,
    )
    return MergeResult(offered=offered)
