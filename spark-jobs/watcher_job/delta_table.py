"""Curated as a Delta Lake table: what the table is, and merging a run's rows into it with ONE MERGE.

Only Spark SQL statements and the DataFrame API (no `delta` Python package, no JVM access), so
the same code runs on spark-submit, over Spark Connect (the server parses the SQL) and on EMR
with the release's own Delta jars; the session must load Delta (`spark.sql.extensions` and the
Delta catalog, which the tool's engines set).

The MERGE keeps the Parquet merge's semantics (`merge.py`, `curation.py`): `keys` are the source
keys (`_source_key`) of the files whose rows the source holds; whatever the table holds from them
is replaced.

- with spec `keys`: ON the key columns (null-safe). A matched row is replaced when it came from
  one of these source keys, or when the new row wins the precedence (every `orderBy` column, then
  `_ingested_at`, `_source_key`, `_source_etag`, greatest wins, null lowest; the row-hash
  tie-break of deduplication cannot be reached here: equal lineage means the same file version,
  whose old row is replaced anyway). Unmatched new rows are inserted. Rows of these source keys
  that no new row replaces are deleted: a first query finds them (by `_source_key` and key) and
  they join the source as tombstones (null `_source_etag`) that the MERGE matches and deletes
  (a batch whose source keys the table holds no row of, a backlog of new files, skips that query).
  Delta's `WHEN NOT MATCHED BY SOURCE ... DELETE` would do it in the statement, but it rewrites
  every file holding any unmatched row, i.e. the whole table on every run.
- without `keys`: ON every data column (null-safe): a new row equal to a kept row on all of them
  is a duplicate; the same clauses follow with the lineage order.
- The source holds every table column (null where the new rows lack one), so a replaced row
  holds exactly the new row, as the Parquet merge's union gives it; new columns are added
  (schema evolution, for this statement only); a type conflict was refused before.

One commit per run, atomic: a reader sees the table before or after it, never half of it. A run
retried after its commit landed (the driver died before its report) finds its own commit on top
of the log (`userMetadata` names the versions it merged) and does not commit again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructType

from watcher_job.columns import (
    INGESTED_AT,
    LINEAGE_COLUMNS,
    SOURCE_ETAG,
    SOURCE_KEY,
    all_of,
    col,
    comparable,
    contains_map,
    quote,
)
from watcher_job.errors import CuratedConflictError, PermanentJobError
from watcher_job.session import session_conf
from watcher_job.sparkio import SPARK_ERRORS, has_marker, one_line

# The path holds no Delta table: no folder, an empty one, or plain Parquet files.
_NOT_DELTA_MARKERS = (
    "DELTA_MISSING_DELTA_TABLE",
    "is not a Delta table",
    "DELTA_PATH_DOES_NOT_EXIST",
    "doesn't exist",
    "does not exist",
    "PATH_NOT_FOUND",
    "DELTA_TABLE_NOT_FOUND",
)
# The session has no Delta: the jars or `spark.sql.extensions` are missing.
_NO_DELTA_MARKERS = (
    "DATA_SOURCE_NOT_FOUND",
    "Failed to find the data source: delta",
    "DELTA_CONFIGURE_SPARK_SESSION_WITH_EXTENSION_AND_CATALOG",
    "PARSE_SYNTAX_ERROR",  # DESCRIBE DETAIL without Delta's SQL extension
    "ParseException",
)
_AUTO_MERGE = "spark.databricks.delta.schema.autoMerge.enabled"
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
_APP = "s3-spark-watcher"


class DeltaUnavailableError(PermanentJobError):
    """The session cannot read or write Delta Lake."""


@dataclass(frozen=True)
class DeltaState:
    version: int
    """The table's latest version."""
    last_commit: str | None
    """The `userMetadata` of the latest commit (ours: `commit_tag`)."""


def table_ref(uri: str) -> str:
    """`delta.`<uri>``: the table at a path, for Spark SQL (a backtick in the path is doubled)."""
    return f"delta.{quote(uri)}"


def delta_unavailable(exc: BaseException) -> DeltaUnavailableError:
    return DeltaUnavailableError(
        "curated is a Delta Lake table, and this Spark session cannot use Delta Lake (its jars, or"
        " spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension and the Delta catalog, are"
        " missing): run the job through s3-spark-watcher's engines, which set them, or add them"
        f" (see spark-jobs/README.md). Spark said: {one_line(exc)}",
        type="DeltaUnavailable",
    )


def probe_delta(spark: SparkSession, uri: str) -> tuple[StructType, list[str], DeltaState] | None:
    """The Delta table at `uri`: its schema (partition columns included), partition columns and
    state; None when there is none. Raises DeltaUnavailableError when the session has no Delta."""
    ref = table_ref(uri)
    try:
        detail = spark.sql(f"DESCRIBE DETAIL {ref}").select("format", "partitionColumns").collect()
    except SPARK_ERRORS as exc:
        if has_marker(exc, _NO_DELTA_MARKERS):
            raise delta_unavailable(exc) from exc
        if has_marker(exc, _NOT_DELTA_MARKERS):
            return None
        raise
    if not detail or detail[0]["format"] != "delta":
        return None
    schema = spark.read.format("delta").load(uri).schema
    last = spark.sql(f"DESCRIBE HISTORY {ref} LIMIT 1").select("version", "userMetadata").collect()
    state = DeltaState(
        version=int(last[0]["version"]) if last else 0,
        last_commit=last[0]["userMetadata"] if last else None,
    )
    return schema, list(detail[0]["partitionColumns"] or []), state


def commit_tag(run_id: str, versions: Sequence[tuple[str, str]]) -> str:
    """The commit's `userMetadata`: the run, and a digest of the (key, ETag) versions it merges."""
    digest = hashlib.sha256("\n".join(f"{k}\t{e}" for k, e in sorted(versions)).encode("utf-8")).hexdigest()
    return json.dumps({"app": _APP, "runId": run_id, "versions": digest}, sort_keys=True)


def committed_already(state: DeltaState, tag: str) -> bool:
    """Whether the latest commit merged exactly these versions (a retry after the commit landed)."""
    try:
        last = json.loads(state.last_commit or "")
        ours = json.loads(tag)
    except ValueError:
        return False
    return isinstance(last, dict) and last.get("app") == _APP and last.get("versions") == ours["versions"]


def create_table(new_rows: DataFrame, uri: str, partition_names: Sequence[str], tag: str) -> None:
    """The table's first commit: the new rows (deduplicated), partitioned as the spec says."""
    writer = new_rows.write.format("delta").mode("append").option("userMetadata", tag)
    if partition_names:
        writer = writer.partitionBy(*partition_names)
    writer.save(uri)


def _aligned_source(new_rows: DataFrame, table: StructType) -> DataFrame:
    """The new rows with every table column (typed null where they lack one), then their own new ones."""
    have = {c.lower(): c for c in new_rows.columns}
    out = [
        col(have[f.name.lower()]) if f.name.lower() in have else F.lit(None).cast(f.dataType).alias(f.name)
        for f in table.fields
    ]
    known = {f.name.lower() for f in table.fields}
    out += [col(c) for c in new_rows.columns if c.lower() not in known]
    return new_rows.select(*out)


def _sql_text(value: str) -> str:
    """A SQL string expression for any text, quotes and backslashes included (hex: nothing to escape)."""
    return f"cast(unhex('{value.encode('utf-8').hex()}') as string)"


def _side(alias: str, name: str, schema: StructType) -> str:
    """`alias.column`, as JSON text when the column holds a map (maps cannot be compared)."""
    ref = f"{alias}.{quote(name)}"
    return f"to_json({ref})" if contains_map(schema[name].dataType) else ref


def _balanced(terms: list[str], op: str) -> str:
    """Terms joined by AND/OR as a balanced tree (a chain of hundreds is too deep for the analyzer)."""
    level = [f"({t})" for t in terms]
    while len(level) > 1:
        paired = [f"({level[i]} {op} {level[i + 1]})" for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def merge_statement(
    uri: str,
    view: str,
    source: StructType,
    table: StructType,
    keys: Sequence[str],
    spec_keys: Sequence[str],
    order_by: Sequence[str],
) -> str:
    """The MERGE of the source view (new rows and tombstones) into the table (see the module's docstring)."""
    table_names = {f.name.lower() for f in table.fields}
    if spec_keys:
        on = [f"{_side('t', k, table)} <=> {_side('s', k, source)}" for k in spec_keys]
        ranked = list(order_by)
    else:
        on = []
        for f in source.fields:
            if f.name in LINEAGE_COLUMNS:
                continue
            if f.name.lower() in table_names:
                on.append(f"{_side('t', f.name, table)} <=> {_side('s', f.name, source)}")
            else:  # a new column: the table's rows hold null there
                on.append(f"s.{quote(f.name)} IS NULL")
        ranked = []
    precedence = [*ranked, INGESTED_AT, SOURCE_KEY, SOURCE_ETAG]
    wins = "struct({}) > struct({})".format(
        ", ".join(f"s.{quote(c)}" for c in precedence), ", ".join(f"t.{quote(c)}" for c in precedence)
    )
    from_sources = f"t.{quote(SOURCE_KEY)} IN ({', '.join(_sql_text(k) for k in keys)})"
    tombstone = f"s.{quote(SOURCE_ETAG)} IS NULL"
    return (
        f"MERGE INTO {table_ref(uri)} AS t USING {quote(view)} AS s ON {_balanced(on, 'AND')} "
        f"WHEN MATCHED AND {tombstone} THEN DELETE "
        f"WHEN MATCHED AND ({from_sources} OR {wins}) THEN UPDATE SET * "
        f"WHEN NOT MATCHED AND NOT {tombstone} THEN INSERT *"
    )


def _tombstones(current: DataFrame, source: DataFrame, spec_keys: Sequence[str], table: StructType) -> DataFrame:
    """The rows of `current` (the table's rows of the run's source keys) that no new row replaces
    (by key; without keys, by equal data), with a null `_source_etag`: the source rows the MERGE
    deletes them by. Delta's own `WHEN NOT MATCHED BY SOURCE` would rewrite every file holding an
    unmatched row (measured: the whole table, on Delta 4.0.1), so the rows to delete are found
    first and matched instead."""
    if spec_keys:
        names = list(spec_keys)
        candidates = source
    else:
        names = [f.name for f in table.fields if f.name not in LINEAGE_COLUMNS]
        known = {n.lower() for n in names}
        new_columns = [c for c in source.columns if c.lower() not in known and c not in LINEAGE_COLUMNS]
        # A new row with a value in a column the table lacks equals no row of the table.
        candidates = source.filter(all_of([col(c).isNull() for c in new_columns])) if new_columns else source
    renamed = candidates.select(*[comparable(candidates, n).alias(f"__r{i}") for i, n in enumerate(names)])
    same = all_of([comparable(current, n).eqNullSafe(F.col(f"__r{i}")) for i, n in enumerate(names)])
    gone = current.join(renamed, same, "left_anti")
    return gone.select(
        *[F.lit(None).cast(StringType()).alias(SOURCE_ETAG) if c == SOURCE_ETAG else col(c) for c in current.columns]
    )


def merge_into_delta(
    spark: SparkSession,
    new_rows: DataFrame,
    *,
    uri: str,
    table: StructType,
    state: DeltaState,
    keys: Sequence[str],
    spec_keys: Sequence[str],
    order_by: Sequence[str],
    tag: str,
) -> bool:
    """MERGE `new_rows` (one row per key, or per distinct data, already) into the table at `uri`
    whose schema is `table`, replacing the rows of the source keys `keys`. False when the latest
    commit merged these versions already (nothing is committed again)."""
    if committed_already(state, tag):
        return False
    aligned = _aligned_source(new_rows, table)
    current = spark.read.format("delta").load(uri).filter(col(SOURCE_KEY).isin(list(keys)))
    # A batch of files the table holds no row of (a backlog of new files) has nothing to delete:
    # one cheap query (Delta's file statistics on `_source_key` usually skip every file) spares
    # the anti join that shuffles all the new rows (measured: a batch of 100 files of 40,000 rows
    # into a table of 2.8 M rows took 88 s instead of 96-99). A single file's join is small: it
    # gets no extra query.
    if len(keys) > 1 and current.isEmpty():
        source = aligned
    else:
        tombstones = _tombstones(current, aligned, spec_keys, table)
        source = aligned.unionByName(tombstones, allowMissingColumns=True)
    view = f"__s3sw_merge_{uuid.uuid4().hex}"
    source.createOrReplaceTempView(view)
    statement = merge_statement(uri, view, source.schema, table, keys, spec_keys, order_by)
    try:
        with session_conf(spark, {_AUTO_MERGE: "true", _USER_METADATA: tag}):
            spark.sql(statement)
    except SPARK_ERRORS as exc:
        if has_marker(exc, ("DELTA_FAILED_TO_MERGE_FIELDS", "DELTA_MERGE_INCOMPATIBLE_DATATYPE", "Failed to merge")):
            raise CuratedConflictError(f"curated table {uri}: {one_line(exc)}", type="CuratedTypeConflict") from exc
        raise
    finally:
        spark.catalog.dropTempView(view)
    return True
