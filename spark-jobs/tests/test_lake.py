import pytest

from watcher_job.errors import InvalidArgumentsError, InvalidKeyError
from watcher_job.lake import check_output_keys_fit, escape_glob, join_uri, normalize_lake_root, parse_key


@pytest.mark.parametrize(
    ("key", "dataset", "cleaned"),
    [
        ("raw/sales/2024/05/orders.parquet", "sales", "cleaned/sales/2024/05/orders"),
        ("raw/sales/orders.PARQUET", "sales", "cleaned/sales/orders"),
        ("raw/x.parquet", "default", "cleaned/default/x"),
        ("raw/sales/a.parquet.parquet", "sales", "cleaned/sales/a.parquet"),
        ("raw/sales/noext", "sales", "cleaned/sales/noext"),
    ],
)
def test_parse_key_derives_dataset_and_outputs(key, dataset, cleaned):
    raw = parse_key(key)
    assert raw.dataset == dataset
    assert raw.cleaned == cleaned
    assert raw.quarantine == cleaned.replace("cleaned/", "quarantine/", 1)
    assert raw.curated == f"curated/{dataset}"


@pytest.mark.parametrize(
    "key",
    ["cleaned/a.parquet", "/raw/a.parquet", "raw/../x.parquet", "raw/a/./b.parquet", "raw//a.parquet",
     "raw/a\x00.parquet", "raw/", "raw/.parquet", "", "rawx/a.parquet", "raw/a/2026-11-01T10:00:00.parquet"],
)  # fmt: skip
def test_parse_key_rejects_bad_keys(key):
    with pytest.raises(InvalidKeyError):
        parse_key(key)


def test_lake_roots():
    assert normalize_lake_root("s3a://bucket/prefix/") == "s3a://bucket/prefix"
    assert normalize_lake_root("s3://bucket") == "s3://bucket"
    assert normalize_lake_root("file:///tmp/lake/") == "file:///tmp/lake"
    for bad in ["http://x", "s3://", "file://relative/path", "/tmp/lake", "s3://b/../c"]:
        with pytest.raises(InvalidArgumentsError):
            normalize_lake_root(bad)


def test_join_and_glob_escape():
    assert join_uri("s3a://b/p", "raw/a.parquet") == "s3a://b/p/raw/a.parquet"
    assert join_uri("file:///l/", "/cleaned/", "x") == "file:///l/cleaned/x"
    assert escape_glob("file:///l/a[1]{x}*?.parquet") == r"file:///l/a\[1\]\{x\}\*\?.parquet"


def test_parse_key_names_the_colon_and_the_key():
    with pytest.raises(InvalidKeyError, match=r"':'.*rename the object.*'raw/a/b:c\.parquet'"):
        parse_key("raw/a/b:c.parquet")


def test_outputs_of_a_key_near_1024_bytes_do_not_fit_on_s3():
    # 1,019 bytes: with the lake's "lake/" prefix, the longest key S3 takes.
    long_key = "raw/long/" + "a" * (1019 - len("raw/long/") - len(".parquet")) + ".parquet"
    with pytest.raises(
        InvalidKeyError, match=r"longer than S3's 1,024-byte limit.*shorten it to at most \d+ bytes: 'raw/long/a"
    ):
        check_output_keys_fit("s3a://bucket/lake", parse_key(long_key))
    check_output_keys_fit("file:///tmp/lake", parse_key(long_key))  # a local lake has no such limit
    short = "raw/long/" + "a" * 700 + ".parquet"
    check_output_keys_fit("s3a://bucket/lake", parse_key(short))
