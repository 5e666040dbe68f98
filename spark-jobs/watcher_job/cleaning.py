"""Cleaning applied to every dataset: pure `DataFrame -> DataFrame` transforms.

Order (see `clean`): snake_case names -> add lineage -> trim strings -> null tokens -> NaN ->
drop all-null rows -> drop exact duplicate rows. The value transforms leave the lineage columns
alone; lineage is constant within a file, so it changes nothing about which rows are
duplicates. Only top-level columns are touched: struct, array and map columns pass through as
they are (not trimmed, nothing renamed inside).

Renamed columns never start with `_` (leading/trailing separators are stripped), so data
columns cannot collide with the lineage columns `_source_key`, `_source_etag`, `_ingested_at`
or with `_errors`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, FloatType, StringType

from watcher_job.columns import (
    INGESTED_AT,
    LINEAGE_COLUMNS,
    SOURCE_ETAG,
    SOURCE_KEY,
    any_of,
    col,
    comparable,
    contains_map,
    data_columns,
)

Transform = Callable[[DataFrame], DataFrame]

DEFAULT_NULL_TOKENS: tuple[str, ...] = ("", "null", "NULL", "N/A", "NaN", "None")

_ACRONYM_BOUNDARY = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# What `trim_strings` strips: the characters of Java's and Python's `\s` in ASCII (space, \t, \n, \v, \f, \r).
_WHITESPACE = " \t\n\x0b\f\r"


def snake_case(name: str) -> str:
    """`Order ID` -> `order_id`, `customerName` -> `customer_name`, `Amount($)` -> `amount`.

    Camel-case boundaries become `_`, every run of non-word characters becomes one `_`,
    leading/trailing `_` are dropped, the result is lower case. May return "" (e.g. for `($)`).
    """
    s = _ACRONYM_BOUNDARY.sub(r"\1_\2", name)
    s = _CAMEL_BOUNDARY.sub(r"\1_\2", s)
    s = _NON_WORD.sub("_", s)
    return s.strip("_").lower()


def unique_snake_names(names: Sequence[str]) -> list[str]:
    """Snake-case every name and make collisions unique: `a`, `a_2`, `a_3`, ... in column order.

    A suffix never takes a name that another column gets naturally, so the result depends
    only on the input names and their order. An empty result becomes `column_<position>`.
    """
    bases = [snake_case(n) or f"column_{i + 1}" for i, n in enumerate(names)]
    natural = set(bases)
    used: set[str] = set()
    out: list[str] = []
    for base in bases:
        candidate = base
        k = 2
        while candidate in used or (candidate != base and candidate in natural):
            candidate = f"{base}_{k}"
            k += 1
        used.add(candidate)
        out.append(candidate)
    return out


def normalize_column_names(df: DataFrame) -> DataFrame:
    """Rename top-level columns to unique snake_case names (positional, so duplicates are fine)."""
    return df.toDF(*unique_snake_names(df.columns))


def _map_columns(df: DataFrame, wanted: Callable[[object], bool], fn) -> DataFrame:
    """Apply `fn` to the data columns whose type is `wanted` (lineage columns are left alone)."""
    targets = {f.name for f in df.schema.fields if wanted(f.dataType) and f.name not in LINEAGE_COLUMNS}
    if not targets:
        return df
    return df.select(*[fn(col(c)).alias(c) if c in targets else col(c) for c in df.columns])


def trim_strings(df: DataFrame) -> DataFrame:
    """Strip leading/trailing whitespace (spaces, tabs, newlines) from top-level string columns."""
    return _map_columns(
        df,
        lambda t: isinstance(t, StringType),
        lambda c: F.btrim(c, F.lit(_WHITESPACE)),
    )


def null_tokens_to_null(tokens: Iterable[str] = DEFAULT_NULL_TOKENS) -> Transform:
    """Turn string values equal (exactly, case-sensitive) to one of `tokens` into null."""
    token_list = list(dict.fromkeys(tokens))

    def transform(df: DataFrame) -> DataFrame:
        if not token_list:
            return df
        return _map_columns(
            df,
            lambda t: isinstance(t, StringType),
            lambda c: F.when(c.isin(token_list), F.lit(None)).otherwise(c),
        )

    return transform


def nan_to_null(df: DataFrame) -> DataFrame:
    """Float/double NaN -> null in top-level columns."""
    return _map_columns(
        df,
        lambda t: isinstance(t, (FloatType, DoubleType)),
        lambda c: F.when(F.isnan(c), F.lit(None)).otherwise(c),
    )


def drop_all_null_rows(df: DataFrame) -> DataFrame:
    """Drop rows whose data columns (lineage ignored) are all null."""
    names = data_columns(df)
    if not names:
        return df
    return df.filter(any_of([col(c).isNotNull() for c in names]))


def drop_duplicate_rows(df: DataFrame) -> DataFrame:
    """Drop exact duplicate rows. Map columns are compared through their JSON text."""
    map_cols = [f.name for f in df.schema.fields if contains_map(f.dataType)]
    if not map_cols:
        return df.dropDuplicates()
    tmp = {c: f"__cmp_{i}" for i, c in enumerate(map_cols)}
    keyed = df.select("*", *[comparable(df, c).alias(t) for c, t in tmp.items()])
    subset = [tmp.get(c, c) for c in df.columns]
    return keyed.dropDuplicates(subset).select(*[col(c) for c in df.columns])


def add_lineage(key: str, etag: str, ingested_at: Column | int | None) -> Transform:
    """Append `_source_key`, `_source_etag` and `_ingested_at` (replacing columns of those names).

    `_ingested_at` is the raw object's modification time, so reprocessing the same file version
    gives the same value; it is never the wall clock. `job.py` passes the file source's hidden
    column `_metadata.file_modification_time`; epoch microseconds (or None) also work. The column
    keeps Spark's generated code the same for every file: a timestamp literal is inlined into the
    generated Java, so a long-lived session would compile new classes for each file.
    """
    if ingested_at is None:
        ingested = F.lit(None).cast("timestamp")
    elif isinstance(ingested_at, int):
        ingested = F.expr(f"timestamp_micros({int(ingested_at)}L)")
    else:
        ingested = ingested_at

    def transform(df: DataFrame) -> DataFrame:
        base = [col(c) for c in df.columns if c not in LINEAGE_COLUMNS]
        return df.select(
            *base,
            F.lit(key).cast("string").alias(SOURCE_KEY),
            F.lit(etag).cast("string").alias(SOURCE_ETAG),
            ingested.cast("timestamp").alias(INGESTED_AT),
        )

    return transform


def clean(
    key: str,
    etag: str,
    ingested_at: Column | int | None,
    null_tokens: Iterable[str] = DEFAULT_NULL_TOKENS,
) -> Transform:
    """The whole cleaning chain for one raw file."""
    values = clean_values(null_tokens)

    def transform(df: DataFrame) -> DataFrame:
        return df.transform(normalize_column_names).transform(add_lineage(key, etag, ingested_at)).transform(values)

    return transform


def clean_values(null_tokens: Iterable[str] = DEFAULT_NULL_TOKENS) -> Transform:
    """The cleaning chain after names and lineage: trim, null tokens, NaN, all-null rows, duplicate
    rows. Row by row but for the duplicates, which are exact rows, lineage included: rows of many
    files in one DataFrame (the batch form) are deduplicated within each file only."""
    tokens = tuple(null_tokens)

    def transform(df: DataFrame) -> DataFrame:
        return (
            df.transform(trim_strings)
            .transform(null_tokens_to_null(tokens))
            .transform(nan_to_null)
            .transform(drop_all_null_rows)
            .transform(drop_duplicate_rows)
        )

    return transform
