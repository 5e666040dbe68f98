"""The dataset spec: parsing, validation, typing and rules.

Shape (every field optional; column names are the snake_cased names):

    {"columns": {"order_id": "bigint", "amount": "decimal(10,2)"},
     "required": ["order_id"], "rules": [{"name": "amount_non_negative", "expr": "amount >= 0"}],
     "keys": ["order_id"], "orderBy": ["order_ts"],
     "partitionBy": [{"name": "order_date", "expr": "to_date(order_ts)"}],
     "nullTokens": ["", "null", "NULL", "N/A", "NaN", "None"], "tableFormat": "delta"}

`tableFormat` is curated's table format: "delta" (a Delta Lake table, merged with one MERGE per
run) or "parquet" (plain Parquet folders, rewritten partition by partition). Unset: a new table
is Delta, and an existing table keeps its format.

Row checks, each failure named in the `_errors` array<string> (in this order):
- `type:<col>`     the cleaned value is not null but `try_cast` to the spec type gives null;
- `required:<col>` the cleaned value is null (key columns are implicitly required);
- `<rule name>`    the rule expression, evaluated on the TYPED row, is false or null.
A value that failed its cast is null for the rules, so a rule on it usually fails as well.

Split: cleaned = rows with no failure, typed; quarantine = rows with a failure, holding the
cleaned values BEFORE the cast (so a bad value stays visible) plus `_errors`.
A spec column (in columns/required/keys/orderBy) missing from the file is a permanent
`MissingColumnError`; so is a bad type string, a rule that does not compile or is not boolean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType

from watcher_job.cleaning import DEFAULT_NULL_TOKENS
from watcher_job.columns import ERRORS, LINEAGE_COLUMNS, col, quote
from watcher_job.errors import InvalidSpecError, MissingColumnError
from watcher_job.expression_guard import expression_problem

Transform = Callable[[DataFrame], DataFrame]

SPEC_FIELDS = ("columns", "required", "rules", "keys", "orderBy", "partitionBy", "nullTokens", "tableFormat")
TABLE_FORMATS = ("delta", "parquet")
# Characters a Spark type string may hold; anything else (quotes, `;`, backticks) is refused
# before the type is ever put into an expression.
_TYPE_CHARS = re.compile(r"^[A-Za-z0-9_<>,:()\s]+$")
_PARTITION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
_RAW_PREFIX = "__raw_"


@dataclass(frozen=True)
class NamedExpr:
    name: str
    expr: str


@dataclass(frozen=True)
class Spec:
    columns: tuple[tuple[str, str], ...] = ()
    required: tuple[str, ...] = ()
    rules: tuple[NamedExpr, ...] = ()
    keys: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    partition_by: tuple[NamedExpr, ...] = ()
    null_tokens: tuple[str, ...] = field(default=DEFAULT_NULL_TOKENS)
    table_format: str | None = None
    """"delta", "parquet", or None: Delta for a new table, an existing table's own format otherwise."""

    @property
    def required_columns(self) -> tuple[str, ...]:
        """`required` plus the key columns, in order, without repeats."""
        return tuple(dict.fromkeys((*self.required, *self.keys)))

    @property
    def partition_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.partition_by)


def _fail(path: str, problem: str) -> InvalidSpecError:
    return InvalidSpecError(f"spec.{path}: {problem}")


def _column_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or value.strip() == "":
        raise _fail(path, f"must be a non-empty column name, got {value!r}")
    if value.startswith("_"):
        raise _fail(path, f"column names starting with '_' are reserved, got {value!r}")
    return value


def _string_list(value: Any, path: str, *, columns: bool) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(path, f"must be a list, got {type(value).__name__}")
    out: list[str] = []
    for i, item in enumerate(value):
        if columns:
            item = _column_name(item, f"{path}[{i}]")
        elif not isinstance(item, str):
            raise _fail(f"{path}[{i}]", f"must be a string, got {item!r}")
        if item in out:
            raise _fail(f"{path}[{i}]", f"duplicate {item!r}")
        out.append(item)
    return tuple(out)


def _named_exprs(value: Any, path: str, *, name_pattern: re.Pattern | None) -> tuple[NamedExpr, ...]:
    if not isinstance(value, list):
        raise _fail(path, f"must be a list, got {type(value).__name__}")
    out: list[NamedExpr] = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            raise _fail(where, "must be an object {name, expr}")
        unknown = sorted(set(item) - {"name", "expr"})
        if unknown:
            raise _fail(where, f"unknown field(s) {unknown}")
        name, expr = item.get("name"), item.get("expr")
        if not isinstance(name, str) or name.strip() == "":
            raise _fail(f"{where}.name", f"must be a non-empty string, got {name!r}")
        if name_pattern is not None and not name_pattern.match(name):
            raise _fail(f"{where}.name", f"must match {name_pattern.pattern}, got {name!r}")
        if not isinstance(expr, str) or expr.strip() == "":
            raise _fail(f"{where}.expr", f"must be a non-empty string, got {expr!r}")
        problem = expression_problem(expr)
        if problem is not None:
            raise _fail(f"{where}.expr", problem)
        if any(o.name == name for o in out):
            raise _fail(f"{where}.name", f"duplicate {name!r}")
        out.append(NamedExpr(name, expr))
    return tuple(out)


def parse_spec(source: str | dict | None) -> Spec:
    """Parse and structurally validate a spec (JSON text or dict). No Spark needed."""
    if source is None or (isinstance(source, str) and source.strip() == ""):
        return Spec()
    if isinstance(source, str):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as exc:
            raise InvalidSpecError(f"spec: not valid JSON ({exc.msg} at position {exc.pos})") from exc
    else:
        data = source
    if not isinstance(data, dict):
        raise InvalidSpecError("spec: must be a JSON object")
    unknown = sorted(set(data) - set(SPEC_FIELDS))
    if unknown:
        raise InvalidSpecError(f"spec: unknown field(s) {unknown}; allowed: {list(SPEC_FIELDS)}")

    columns: list[tuple[str, str]] = []
    raw_columns = data.get("columns", {})
    if not isinstance(raw_columns, dict):
        raise _fail("columns", "must be an object {column: type}")
    for name, type_string in raw_columns.items():
        _column_name(name, f"columns.{name}")
        if not isinstance(type_string, str) or not _TYPE_CHARS.match(type_string):
            raise _fail(f"columns.{name}", f"invalid type {type_string!r}")
        columns.append((name, type_string.strip()))

    keys = _string_list(data.get("keys", []), "keys", columns=True)
    order_by = _string_list(data.get("orderBy", []), "orderBy", columns=True)
    if order_by and not keys:
        raise _fail("orderBy", "needs keys (orderBy picks the latest row per key)")
    partition_by = _named_exprs(data.get("partitionBy", []), "partitionBy", name_pattern=_PARTITION_NAME)
    null_tokens = data.get("nullTokens", list(DEFAULT_NULL_TOKENS))
    table_format = data.get("tableFormat")
    if table_format is not None and table_format not in TABLE_FORMATS:
        raise _fail("tableFormat", f"must be one of {list(TABLE_FORMATS)}, got {table_format!r}")
    return Spec(
        columns=tuple(columns),
        required=_string_list(data.get("required", []), "required", columns=True),
        rules=_named_exprs(data.get("rules", []), "rules", name_pattern=None),
        keys=keys,
        order_by=order_by,
        partition_by=partition_by,
        null_tokens=_string_list(null_tokens, "nullTokens", columns=False),
        table_format=table_format,
    )


def _analyse(df: DataFrame, column: Column) -> DataFrame:
    """Resolve a one-column projection; raises on parse or analysis errors (also over Connect)."""
    projected = df.select(column.alias("_probe"))
    projected.schema  # noqa: B018 - forces analysis
    return projected


def _try_cast(name: str, type_string: str) -> Column:
    # `Column.try_cast` is Spark 4 only; the SQL function exists on 3.5 and 4.x.
    return F.expr(f"try_cast({quote(name)} as {type_string})")


def validate_spec(df: DataFrame, spec: Spec) -> None:
    """Check the spec against the cleaned DataFrame (Spark analysis only, no job runs).

    Raises MissingColumnError / InvalidSpecError naming the offending field.
    """
    present = set(df.columns)
    named = [("columns", n) for n, _ in spec.columns] + [
        (f, n)
        for f, names in (("required", spec.required), ("keys", spec.keys), ("orderBy", spec.order_by))
        for n in names
    ]
    for field_name, name in named:
        if name not in present:
            raise MissingColumnError(
                f"spec.{field_name}: column {name!r} is not in the file (columns: {sorted(present)})"
            )
    if _all_valid(df, spec):
        return
    # Something is wrong: analyse the parts one by one to name it.
    for name, type_string in spec.columns:
        try:
            _analyse(df, F.expr(f"cast(null as {type_string})"))
        except Exception as exc:
            raise _fail(f"columns.{name}", f"invalid type {type_string!r}") from exc
        try:
            _analyse(df, _try_cast(name, type_string))
        except Exception as exc:
            source = df.schema[name].dataType.simpleString()
            raise _fail(f"columns.{name}", f"cannot cast {source} to {type_string!r}") from exc
    typed = df.transform(cast_columns(spec))
    anchor = col(typed.columns[0])
    for i, rule in enumerate(spec.rules):
        try:
            result_type = _analyse(typed, F.expr(rule.expr)).schema["_probe"].dataType
        except Exception as exc:
            raise _fail(f"rules[{i}]", f"rule {rule.name!r} does not compile: {_first_line(exc)}") from exc
        if not isinstance(result_type, BooleanType):
            raise _fail(f"rules[{i}]", f"rule {rule.name!r} must be boolean, got {result_type.simpleString()}")
        try:  # as a per-row expression next to a column: refuses aggregates, generators, windows
            typed.select(anchor, F.coalesce(F.expr(rule.expr), F.lit(False))).schema  # noqa: B018
        except Exception as exc:
            raise _fail(f"rules[{i}]", f"rule {rule.name!r} is not a per-row condition: {_first_line(exc)}") from exc
    for i, part in enumerate(spec.partition_by):
        try:
            typed.select(anchor, F.expr(part.expr)).schema  # noqa: B018
        except Exception as exc:
            raise _fail(f"partitionBy[{i}]", f"partition {part.name!r} does not compile: {_first_line(exc)}") from exc


def _all_valid(df: DataFrame, spec: Spec) -> bool:
    """Every cast, rule and partition expression in one projection: one analysis round trip
    instead of two or three per part. True when it resolves and every rule is boolean; then
    the checks one by one in `validate_spec` would all pass too."""
    try:  # classic PySpark parses F.expr at once, Connect at analysis: both inside the try
        typed = df.transform(cast_columns(spec))
        rules = [F.expr(rule.expr).alias(f"__rule{i}") for i, rule in enumerate(spec.rules)]
        # The same shape as the one-by-one checks: next to every column, inside coalesce
        # (so aggregates and nested generators are refused).
        per_row = [F.coalesce(F.expr(r.expr), F.lit(False)).alias(f"__row{i}") for i, r in enumerate(spec.rules)]
        parts = [F.expr(part.expr).alias(f"__part{i}") for i, part in enumerate(spec.partition_by)]
        schema = typed.select("*", *rules, *per_row, *parts).schema
    except Exception:  # noqa: BLE001 - the one-by-one checks say what is wrong
        return False
    return all(isinstance(schema[f"__rule{i}"].dataType, BooleanType) for i in range(len(spec.rules)))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def cast_columns(spec: Spec) -> Transform:
    """Cast the spec's columns with try_cast (a failed cast becomes null; see `check_rows`)."""
    types = dict(spec.columns)

    def transform(df: DataFrame) -> DataFrame:
        if not types:
            return df
        return df.select(*[_try_cast(c, types[c]).alias(c) if c in types else col(c) for c in df.columns])

    return transform


def check_rows(spec: Spec) -> Transform:
    """Type the spec's columns and add `_errors` (array<string>, empty when the row passes).

    The cleaned value of every cast column is kept as `__raw_<i>` for `failed_rows`.
    """
    types = dict(spec.columns)

    def transform(df: DataFrame) -> DataFrame:
        originals = {c: f"{_RAW_PREFIX}{i}" for i, c in enumerate(df.columns) if c in types}
        with_raw = df.select("*", *[col(c).alias(t) for c, t in originals.items()])
        typed = with_raw.transform(cast_columns(spec))
        checks: list[Column] = []
        for c in types:
            checks.append(F.when(col(originals[c]).isNotNull() & col(c).isNull(), F.lit(f"type:{c}")))
        for c in spec.required_columns:
            before_cast = col(originals.get(c, c))
            checks.append(F.when(before_cast.isNull(), F.lit(f"required:{c}")))
        for rule in spec.rules:
            checks.append(F.when(~F.coalesce(F.expr(rule.expr), F.lit(False)), F.lit(rule.name)))
        if checks:
            errors = F.filter(F.array(*checks), lambda e: e.isNotNull())
        else:
            errors = F.array().cast("array<string>")
        return typed.select("*", errors.cast("array<string>").alias(ERRORS))

    return transform


def _output_columns(df: DataFrame) -> list[str]:
    return [c for c in df.columns if not c.startswith(_RAW_PREFIX) and c != ERRORS]


def passed_rows(df: DataFrame) -> DataFrame:
    """Rows of `check_rows` output with no failure: the typed data and lineage."""
    return df.filter(F.size(ERRORS) == 0).select(*[col(c) for c in _output_columns(df)])


def failed_rows(df: DataFrame) -> DataFrame:
    """Rows of `check_rows` output with failures: cleaned values before the cast, lineage, `_errors`."""
    raw_of = {}
    for c in df.columns:
        if c.startswith(_RAW_PREFIX):
            raw_of[df.columns[int(c[len(_RAW_PREFIX) :])]] = c
    data = [c for c in _output_columns(df) if c not in LINEAGE_COLUMNS]
    return df.filter(F.size(ERRORS) > 0).select(
        *[col(raw_of.get(c, c)).alias(c) for c in data],
        *[col(c) for c in LINEAGE_COLUMNS if c in df.columns],
        col(ERRORS),
    )
