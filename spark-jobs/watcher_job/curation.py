"""Curation transforms: partition columns, deduplication and the schema check.

Pure `DataFrame -> DataFrame` functions (plus one pure schema check); the I/O of the merge is
in `merge.py`.

Which row wins (deterministic, so reprocessing gives the same table):
- with `keys`: one row per key; order by every `orderBy` column descending (nulls lowest), then
  `_ingested_at` descending (the more recently modified raw file wins), then `_source_key`,
  `_source_etag` descending, then a hash of the whole row;
- without `keys`: rows equal on every data column (lineage ignored) are duplicates; the one
  kept is chosen by the same lineage order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ByteType,
    DataType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StructType,
)

from watcher_job.columns import INGESTED_AT, LINEAGE_COLUMNS, SOURCE_ETAG, SOURCE_KEY, col, comparable, row_hash
from watcher_job.errors import CuratedConflictError
from watcher_job.spec import NamedExpr

Transform = Callable[[DataFrame], DataFrame]
_RANK = "__rank"


def add_partition_columns(partitions: Sequence[NamedExpr]) -> Transform:
    """Add (or replace) one column per `partitionBy` entry, computed from its expression."""

    def transform(df: DataFrame) -> DataFrame:
        out = df
        for part in partitions:
            value = F.expr(part.expr).alias(part.name)
            if part.name in out.columns:
                out = out.select(*[value if c == part.name else col(c) for c in out.columns])
            else:
                out = out.select("*", value)
        return out

    return transform


def _lineage_order() -> list:
    return [
        col(INGESTED_AT).desc_nulls_last(),
        col(SOURCE_KEY).desc_nulls_last(),
        col(SOURCE_ETAG).desc_nulls_last(),
    ]


def _keep_first(df: DataFrame, partition_cols: list, order_cols: list) -> DataFrame:
    window = Window.partitionBy(*partition_cols).orderBy(*order_cols)
    ranked = df.select("*", F.row_number().over(window).alias(_RANK))
    return ranked.filter(F.col(_RANK) == 1).select(*[col(c) for c in df.columns])


def latest_per_key(keys: Sequence[str], order_by: Sequence[str] = (), *, per_source: bool = False) -> Transform:
    """Keep one row per key: the greatest `order_by`, ties broken deterministically.

    `per_source`: one row per key within each `_source_key` (rows of many files in one DataFrame).
    """

    def transform(df: DataFrame) -> DataFrame:
        order = [col(c).desc_nulls_last() for c in order_by]
        order += _lineage_order()
        order.append(row_hash(df, df.columns).desc())
        within = [col(SOURCE_KEY)] if per_source else []
        return _keep_first(df, [comparable(df, k) for k in keys] + within, order)

    return transform


def drop_duplicates_ignoring_lineage(df: DataFrame, *, per_source: bool = False) -> DataFrame:
    """Keep one row of every group equal on all non-lineage columns (within each `_source_key`
    with `per_source`)."""
    data = [c for c in df.columns if c not in LINEAGE_COLUMNS]
    if not data:
        return df
    within = [col(SOURCE_KEY)] if per_source else []
    return _keep_first(df, [comparable(df, c) for c in data] + within, _lineage_order())


def deduplicate(keys: Sequence[str], order_by: Sequence[str] = (), *, per_source: bool = False) -> Transform:
    """`latest_per_key` with keys, else `drop_duplicates_ignoring_lineage`; with `per_source`,
    within each `_source_key` (what each file of many offers to curated)."""
    if keys:
        return latest_per_key(keys, order_by, per_source=per_source)
    return lambda df: drop_duplicates_ignoring_lineage(df, per_source=per_source)


def check_compatible(
    existing: StructType,
    new: StructType,
    *,
    ignore: Sequence[str] = (),
    where: Callable[[str], str] = lambda name: "curated",
) -> None:
    """Raise CuratedConflictError when a column of the new rows does not fit its type in curated.

    Columns only on one side are fine (curated widens; older rows get null). Nullability is
    ignored. A narrower type of the new rows that widens losslessly into curated's (`widens`) fits:
    `widen_to` casts the rows before the merge; a wider or another type is a conflict. `ignore`
    lists partition columns, whose types are taken from the new rows. `where` names where
    `existing`'s column comes from, for the message (the batch form also checks a file against
    the earlier files of the batch).
    """
    skip = {n.lower() for n in ignore}
    old = {f.name.lower(): f for f in existing.fields}
    for f in new.fields:
        other = old.get(f.name.lower())
        if other is None or f.name.lower() in skip:
            continue
        if not _same_type(other.dataType, f.dataType) and not widens(f.dataType, other.dataType):
            raise CuratedConflictError(
                f"column {f.name!r} is {other.dataType.simpleString()} in {where(other.name)} "
                f"but {f.dataType.simpleString()} in the new rows",
                type="CuratedTypeConflict",
            )


def _same_type(a, b) -> bool:
    # simpleString ignores nullability (also of nested fields / elements / values).
    return a.simpleString() == b.simpleString()


_INTEGRAL_WIDTH = {ByteType: 1, ShortType: 2, IntegerType: 4, LongType: 8}


def widens(narrow: DataType, wide: DataType) -> bool:
    """Whether every value of type `narrow` is a value of type `wide`, unchanged: a smaller integer
    into a larger one, float into double, a decimal into one with as many digits on each side of
    the point. Integers into decimals, or anything into a string, are not widening."""
    if type(narrow) in _INTEGRAL_WIDTH and type(wide) in _INTEGRAL_WIDTH:
        return _INTEGRAL_WIDTH[type(narrow)] < _INTEGRAL_WIDTH[type(wide)]
    if isinstance(narrow, FloatType) and isinstance(wide, DoubleType):
        return True
    if isinstance(narrow, DecimalType) and isinstance(wide, DecimalType):
        return wide.scale >= narrow.scale and wide.precision - wide.scale >= narrow.precision - narrow.scale
    return False


def widen_to(table: StructType) -> Transform:
    """Cast the columns whose type widens into `table`'s (see `widens`) to that type, so the rows
    and the table meet with one type; other columns are left as they are."""
    types = {f.name.lower(): f.dataType for f in table.fields}

    def transform(df: DataFrame) -> DataFrame:
        cast = {}
        for f in df.schema.fields:
            wide = types.get(f.name.lower())
            if wide is not None and not _same_type(f.dataType, wide) and widens(f.dataType, wide):
                cast[f.name] = col(f.name).cast(wide)
        return df.withColumns(cast) if cast else df

    return transform


def align_columns(df: DataFrame, order: Sequence[str]) -> DataFrame:
    """Select `order` first (those present), then any other column, lineage last."""
    present = [c for c in dict.fromkeys(order) if c in df.columns and c not in LINEAGE_COLUMNS]
    rest = [c for c in df.columns if c not in present and c not in LINEAGE_COLUMNS]
    lineage = [c for c in LINEAGE_COLUMNS if c in df.columns]
    return df.select(*[col(c) for c in (*present, *rest, *lineage)])
