import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from watcher_job.cleaning import add_lineage
from watcher_job.curation import deduplicate
from watcher_job.errors import InvalidSpecError, MissingColumnError
from watcher_job.spec import check_rows, failed_rows, parse_spec, passed_rows, validate_spec


def _df(spark, rows, schema):
    return spark.createDataFrame(rows, schema).transform(add_lineage("raw/s/a.parquet", "e1", 0))


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"colums": {}}, "colums"),
        ({"columns": {"a": "int; drop"}}, "columns.a"),
        ({"columns": []}, "spec.columns"),
        ({"required": "a"}, "spec.required"),
        ({"keys": ["a", "a"]}, "spec.keys[1]"),
        ({"orderBy": ["ts"]}, "spec.orderBy"),
        ({"rules": [{"name": "r", "expr": ""}]}, "spec.rules[0].expr"),
        ({"rules": [{"name": "r", "expr": "a > 0", "x": 1}]}, "spec.rules[0]"),
        ({"partitionBy": [{"name": "bad name", "expr": "a"}]}, "spec.partitionBy[0].name"),
        ({"nullTokens": [1]}, "spec.nullTokens[0]"),
        ({"required": ["_source_key"]}, "spec.required[0]"),
        ({"tableFormat": "iceberg"}, "spec.tableFormat"),
    ],
)
def test_parse_spec_rejects_naming_the_field(spec, field):
    with pytest.raises(InvalidSpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_spec(json.dumps(spec))


# Shared with the controller's tests (test/unit/specs.test.ts): both validators decide alike.
EXPRESSIONS = json.loads((Path(__file__).parent / "spec_expressions.json").read_text())


@pytest.mark.parametrize("case", EXPRESSIONS["refused"], ids=lambda c: c["expr"][:40])
@pytest.mark.parametrize("field", ["rules", "partitionBy"])
def test_an_expression_that_escapes_the_data_is_refused(spark, case, field):
    if case.get("runs"):  # the threat is real: Spark would run it
        spark.range(1).select(F.expr(case["expr"])).collect()
    expected = f"uses '{case['word']}'" if "word" in case else f"has {case['problem']}"
    with pytest.raises(InvalidSpecError, match=re.escape(f"spec.{field}[0].expr: {expected}")):
        parse_spec({field: [{"name": "x", "expr": case["expr"]}]})


@pytest.mark.parametrize("expr", EXPRESSIONS["allowed"])
def test_refused_words_inside_literals_and_comments_are_allowed(spark, expr):
    assert parse_spec({"rules": [{"name": "x", "expr": expr}]}).rules[0].expr == expr
    assert spark.range(1).select(F.expr(expr)).first()[0] is True  # valid Spark SQL, and true


def test_parse_spec_invalid_json():
    with pytest.raises(InvalidSpecError, match="not valid JSON"):
        parse_spec("{nope")


def test_parse_spec_defaults():
    spec = parse_spec(None)
    assert spec.columns == () and spec.keys == () and "N/A" in spec.null_tokens
    full = parse_spec(json.dumps({"keys": ["id"], "required": ["ts"], "nullTokens": []}))
    assert full.required_columns == ("ts", "id")
    assert full.null_tokens == ()


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ({"columns": {"a": "no_such_type"}}, InvalidSpecError, "columns.a"),
        ({"columns": {"a": "decimal(10"}}, InvalidSpecError, "columns.a"),
        ({"columns": {"zzz": "int"}}, MissingColumnError, "zzz"),
        ({"keys": ["zzz"]}, MissingColumnError, "spec.keys"),
        ({"rules": [{"name": "broken_rule", "expr": "a >>> 1"}]}, InvalidSpecError, "broken_rule"),
        ({"rules": [{"name": "unknown_col", "expr": "nope > 1"}]}, InvalidSpecError, "unknown_col"),
        ({"rules": [{"name": "not_bool", "expr": "a + 1"}]}, InvalidSpecError, "not_bool.*boolean"),
        ({"rules": [{"name": "agg", "expr": "count(*) > 0"}]}, InvalidSpecError, "agg"),
        ({"partitionBy": [{"name": "p", "expr": "nope(a)"}]}, InvalidSpecError, "partitionBy"),
    ],
)
def test_validate_spec_against_data(spark, spec, error, match):
    df = _df(spark, [("1", "x")], "a string, b string")
    with pytest.raises(error, match=match):
        validate_spec(df, parse_spec(spec))


def test_typing_required_and_rules(spark):
    spec = parse_spec(
        {
            "columns": {"id": "bigint", "amount": "decimal(10,2)", "ts": "timestamp"},
            "required": ["ts"],
            "rules": [
                {"name": "amount_non_negative", "expr": "amount >= 0"},
                {"name": "small_id", "expr": "id < 100"},
            ],
        }
    )
    df = _df(
        spark,
        [
            ("1", "1.50", "2024-01-01 10:00:00"),  # passes
            ("x", "-1", None),  # type:id, required:ts, both rules (id null after the failed cast)
            ("500", "abc", "2024-01-01"),  # type:amount, rules
            ("2", None, "not a time"),  # type:ts, rule on null amount
        ],
        "id string, amount string, ts string",
    )
    validate_spec(df, spec)
    checked = df.transform(check_rows(spec))
    passed = checked.transform(passed_rows)
    assert passed.schema.simpleString().startswith("struct<id:bigint,amount:decimal(10,2),ts:timestamp")
    assert [(r.id, r.amount) for r in passed.collect()] == [(1, Decimal("1.50"))]
    failed = {r.id: r for r in checked.transform(failed_rows).collect()}
    # quarantine keeps the cleaned values as they were before the cast
    assert set(failed) == {"x", "500", "2"}
    assert failed["500"].amount == "abc"
    assert failed["x"]._errors == ["type:id", "required:ts", "amount_non_negative", "small_id"]
    assert failed["500"]._errors == ["type:amount", "amount_non_negative", "small_id"]
    assert failed["2"]._errors == ["type:ts", "amount_non_negative"]
    assert checked.transform(failed_rows).columns[-4:] == ["_source_key", "_source_etag", "_ingested_at", "_errors"]


def test_no_spec_means_every_row_passes(spark):
    df = _df(spark, [(1,), (None,)], "a int")
    checked = df.transform(check_rows(parse_spec(None)))
    assert checked.transform(passed_rows).count() == 2
    assert checked.transform(failed_rows).count() == 0
    assert checked.schema["_errors"].dataType.simpleString() == "array<string>"


def test_keys_latest_wins_with_deterministic_ties(spark):
    rows = [
        (1, 10, "old", "raw/s/a.parquet", "e1"),
        (1, 20, "new", "raw/s/a.parquet", "e1"),
        (2, 5, "from_a", "raw/s/a.parquet", "e1"),
        (2, 5, "from_b", "raw/s/b.parquet", "e1"),  # tie on orderBy: greater _source_key wins
        (3, None, "null_ts", "raw/s/a.parquet", "e1"),
        (3, 1, "some_ts", "raw/s/a.parquet", "e1"),  # nulls lose
    ]
    df = spark.createDataFrame(rows, "id int, ts int, v string, _source_key string, _source_etag string")
    df = df.selectExpr("*", "timestamp_micros(0L) as _ingested_at")
    for shuffled in (df, df.orderBy("v"), df.repartition(3)):
        out = {r.id: r.v for r in shuffled.transform(deduplicate(["id"], ["ts"])).collect()}
        assert out == {1: "new", 2: "from_b", 3: "some_ts"}
    # full ties within one file are broken by the row hash, the same way every time
    same = spark.createDataFrame([(1, "a"), (1, "b"), (1, "c")], "id int, v string").transform(
        add_lineage("raw/s/a.parquet", "e", 0)
    )
    winners = {same.repartition(n).transform(deduplicate(["id"])).collect()[0].v for n in (1, 2, 3)}
    assert len(winners) == 1
