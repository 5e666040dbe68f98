"""How a run caches its rows: uncompressed while its raw input fits the heap with room to spare."""

import pytest

from watcher_job.session import UNCOMPRESSED_CACHE_CONF, cache_conf, memory_bytes

MiB = 1 << 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2g", 2 << 30),
        ("4G", 4 << 30),
        ("512m", 512 * MiB),
        ("4096", 4096 * MiB),  # Spark reads a bare number as MiB
        ("1.5g", 3 << 29),
        ("2gb", 2 << 30),
        ("512b", 512),  # bytes
        (None, 1 << 30),  # Spark's default
        ("lots", 1 << 30),
    ],
)
def test_memory_sizes_read_as_spark_reads_them(text, expected):
    assert memory_bytes(text) == expected


def test_a_run_caches_uncompressed_only_what_fits_a_32nd_of_the_heap(spark):
    # The test session's driver has 1g: 32 MiB of raw input is the most kept uncompressed.
    assert spark.conf.get("spark.driver.memory") == "1g"
    assert cache_conf(spark, 32 * MiB) == UNCOMPRESSED_CACHE_CONF
    assert cache_conf(spark, 32 * MiB + 1) == {}
    assert cache_conf(spark, None) == {}  # size unknown
