import math
from datetime import datetime

from conftest import rows_of
from pyspark.sql import functions as F

from watcher_job.cleaning import (
    add_lineage,
    clean,
    drop_all_null_rows,
    drop_duplicate_rows,
    nan_to_null,
    normalize_column_names,
    null_tokens_to_null,
    snake_case,
    trim_strings,
    unique_snake_names,
)


def test_snake_case():
    assert snake_case("Order ID") == "order_id"
    assert snake_case("customerName") == "customer_name"
    assert snake_case("Amount($)") == "amount"
    assert snake_case("HTTPStatusCode") == "http_status_code"
    assert snake_case("  already_snake ") == "already_snake"
    assert snake_case("_source_key") == "source_key"
    assert snake_case("a.b-c") == "a_b_c"


def test_collisions_are_unique_and_deterministic():
    assert unique_snake_names(["Order ID", "order_id", "orderId"]) == ["order_id", "order_id_2", "order_id_3"]
    # a suffix never steals a name another column gets naturally
    assert unique_snake_names(["a", "A ", "a_2"]) == ["a", "a_3", "a_2"]
    assert unique_snake_names(["($)", "x"]) == ["column_1", "x"]


def test_normalize_column_names_keeps_nested_fields(spark):
    df = spark.createDataFrame([(1, (2, "x"))], "`Order ID` int, `Ship To` struct<ZipCode: int, cityName: string>")
    out = df.transform(normalize_column_names)
    assert out.columns == ["order_id", "ship_to"]
    assert out.schema["ship_to"].dataType.simpleString() == "struct<ZipCode:int,cityName:string>"


def test_trim_and_null_tokens(spark):
    df = spark.createDataFrame(
        [("  a ", " N/A "), ("\tb\n", "null"), ("NaN", "None"), ("", "NULL"), ("n/a", " x ")], "s string, t string"
    )
    out = df.transform(trim_strings).transform(null_tokens_to_null())
    assert [tuple(r) for r in out.collect()] == [("a", None), ("b", None), (None, None), (None, None), ("n/a", "x")]
    custom = df.transform(trim_strings).transform(null_tokens_to_null(["n/a"]))
    assert [r.s for r in custom.collect()] == ["a", "b", "NaN", "", None]


def test_trim_strips_every_ascii_whitespace_at_the_ends_only(spark):
    df = spark.createDataFrame([("\r\x0b a \t b \f\n",), ("\u00a0c\u00a0",), (" ",)], "s string")
    # inner whitespace stays; a no-break space is not ASCII whitespace and stays too
    assert [r.s for r in df.transform(trim_strings).collect()] == ["a \t b", "\u00a0c\u00a0", ""]


def test_nan_to_null(spark):
    df = spark.createDataFrame([(float("nan"), 1.5), (2.0, float("nan"))], "d double, f float")
    out = df.transform(nan_to_null).collect()
    assert out[0].d is None and out[0].f == 1.5
    assert out[1].d == 2.0 and out[1].f is None
    assert not any(isinstance(v, float) and math.isnan(v) for r in out for v in r)


def test_drop_all_null_rows_ignores_lineage(spark):
    df = spark.createDataFrame(
        [(None, None, "k"), (1, None, "k"), (None, None, None)], "a int, b string, _source_key string"
    )
    assert [r.a for r in df.transform(drop_all_null_rows).collect()] == [1]


def test_drop_duplicate_rows_with_nested_types(spark):
    schema = "id int, s struct<x:int>, arr array<int>, m map<string,int>"
    df = spark.createDataFrame(
        [(1, (1,), [1, 2], {"a": 1}), (1, (1,), [1, 2], {"a": 1}), (1, (1,), [1, 2], {"a": 2}), (2, None, None, None)],
        schema,
    )
    out = df.transform(drop_duplicate_rows)
    assert out.count() == 3
    assert out.schema.simpleString() == df.schema.simpleString()


def test_nested_types_pass_through_untouched(spark):
    schema = "`Name` string, s struct<`Inner Name`:string>, arr array<string>, m map<string,string>"
    df = spark.createDataFrame([(" a ", (" keep ",), [" x ", "N/A"], {" k ": " v "})], schema)
    out = df.transform(clean("raw/k.parquet", "e", 0))
    row = out.collect()[0]
    assert row.name == "a"
    assert row.s["Inner Name"] == " keep "
    assert row.arr == [" x ", "N/A"]
    assert row.m == {" k ": " v "}


def test_lineage_is_deterministic(spark):
    df = spark.createDataFrame([(1,)], "a int")
    micros = 1_714_557_600_123_456  # 2024-05-01T10:00:00.123456Z
    out = df.transform(add_lineage("raw/s/a.parquet", "etag-1", micros))
    assert out.columns == ["a", "_source_key", "_source_etag", "_ingested_at"]
    row = out.select("*", F.expr("unix_micros(_ingested_at)").alias("us")).collect()[0]
    assert (row._source_key, row._source_etag, row.us) == ("raw/s/a.parquet", "etag-1", micros)
    assert isinstance(row._ingested_at, datetime)
    assert out.schema["_ingested_at"].dataType.simpleString() == "timestamp"


def test_clean_chain(spark):
    df = spark.createDataFrame(
        [(" 1 ", "Ann", 1.0), ("1", "Ann ", 1.0), (None, " ", float("nan")), ("2", "N/A", 2.0)],
        "`Order ID` string, customerName string, `Amount($)` double",
    )
    out = df.transform(clean("raw/x.parquet", "e1", None))
    assert out.columns == ["order_id", "customer_name", "amount", "_source_key", "_source_etag", "_ingested_at"]
    got = [(r["order_id"], r["customer_name"], r["amount"]) for r in rows_of(out)]
    assert sorted(got, key=str) == sorted([("1", "Ann", 1.0), ("2", None, 2.0)], key=str)


def _nesting(column) -> int:
    """How deep the parentheses of a column's expression text go: its tree depth, near enough."""
    depth = deepest = 0
    for ch in str(column):
        depth += ch == "("
        depth -= ch == ")"
        deepest = max(deepest, depth)
    return deepest


def test_conditions_over_many_columns_stay_shallow():
    # A left-deep chain over 66 columns broke Spark Connect's protobuf depth limit, over about
    # 1,000 Spark's analyzer stack; a balanced tree is log2(n) deep.
    from watcher_job.columns import all_of, any_of

    conditions = [F.col(f"c{i}").isNotNull() for i in range(2000)]
    assert _nesting(any_of(conditions)) <= 2 * 11 + 4
    assert _nesting(all_of(conditions)) <= 2 * 11 + 4
    assert str(any_of(conditions[:1])) == str(conditions[0])


def test_drop_all_null_rows_on_a_wide_frame(spark):
    width = 300
    schema = ", ".join(f"c{i} int" for i in range(width))
    df = spark.createDataFrame([tuple(range(width)), tuple([None] * width)], schema)
    assert df.transform(drop_all_null_rows).count() == 1
