"""Small column helpers shared by the transforms (DataFrame API only)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, MapType, StructType

SOURCE_KEY = "_source_key"
SOURCE_ETAG = "_source_etag"
INGESTED_AT = "_ingested_at"
LINEAGE_COLUMNS = (SOURCE_KEY, SOURCE_ETAG, INGESTED_AT)
ERRORS = "_errors"


def quote(name: str) -> str:
    """Backtick-quote a column name for SQL expressions and `F.col` (dots, spaces, backticks)."""
    return "`" + name.replace("`", "``") + "`"


def col(name: str) -> Column:
    """A reference to the top-level column `name`, whatever characters it holds."""
    return F.col(quote(name))


def data_columns(df: DataFrame) -> list[str]:
    """Every column except the lineage and `_errors` columns."""
    skip = {*LINEAGE_COLUMNS, ERRORS}
    return [c for c in df.columns if c not in skip]


def contains_map(dtype: DataType) -> bool:
    """Map types cannot be grouped, hashed or compared by Spark; they need a stand-in."""
    if isinstance(dtype, MapType):
        return True
    if isinstance(dtype, ArrayType):
        return contains_map(dtype.elementType)
    if isinstance(dtype, StructType):
        return any(contains_map(f.dataType) for f in dtype.fields)
    return False


def comparable(df: DataFrame, name: str) -> Column:
    """The column itself, or its JSON text when it holds a map (so it can be grouped/hashed)."""
    if contains_map(df.schema[name].dataType):
        return F.to_json(col(name))
    return col(name)


def row_hash(df: DataFrame, names: list[str]) -> Column:
    """A deterministic 64-bit hash of the given columns, usable as a last tie-breaker."""
    return F.xxhash64(*[comparable(df, n) for n in names]) if names else F.lit(0).cast("bigint")


def _balanced(conditions: Sequence[Column], op) -> Column:
    """Combine with a binary operator as a balanced tree: depth log2(n), not n. A left-deep chain
    over hundreds of columns overflows Spark's analyzer stack, Python's recursion limit when a
    plan is serialized for Connect, and Connect's protobuf depth limit (at about 60 columns)."""
    if not conditions:
        raise ValueError("no conditions to combine")
    level = list(conditions)
    while len(level) > 1:
        paired = [op(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def any_of(conditions: Sequence[Column]) -> Column:
    """`c1 OR c2 OR ...` as a shallow tree, whatever the number of conditions."""
    return _balanced(conditions, lambda a, b: a | b)


def all_of(conditions: Sequence[Column]) -> Column:
    """`c1 AND c2 AND ...` as a shallow tree, whatever the number of conditions."""
    return _balanced(conditions, lambda a, b: a & b)


def union_all(frames: Sequence[DataFrame]) -> DataFrame:
    """`unionByName(allowMissingColumns=True)` of all frames as a shallow tree (a chain of
    hundreds of unions is too deep for Connect's protobuf limit; Spark flattens it anyway)."""
    return _balanced(frames, lambda a, b: a.unionByName(b, allowMissingColumns=True))
