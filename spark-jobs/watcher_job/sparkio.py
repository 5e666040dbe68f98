"""Reading and classifying Spark failures (no RDD / SparkContext / JVM access: runs over Connect)."""

from __future__ import annotations

from pyspark.errors import PySparkException

try:  # classic (py4j) sessions only; absent from a Connect-only client
    from py4j.protocol import Py4JError as _Py4JError
except ImportError:  # pragma: no cover
    _Py4JError = None

SPARK_ERRORS: tuple[type[BaseException], ...] = (
    (PySparkException,) if _Py4JError is None else (PySparkException, _Py4JError)
)

# Markers of a raw object that can never be read as Parquet.
UNREADABLE_MARKERS = (
    "is not a Parquet file",
    "not a Parquet file",
    "Could not read footer",
    "CANNOT_READ_FILE_FOOTER",
    "FAILED_READ_FILE",
    "UNABLE_TO_INFER_SCHEMA",
    "Unable to infer schema",
    "EOFException",
    "ParquetDecodingException",
    "Can not read value at",
    "PARQUET_COLUMN_DATA_TYPE_MISMATCH",
    "Parquet column cannot be converted",
    "CORRUPT",
    "Encountered error while reading file",  # Spark 3.5's wrapper of a bad data page
    "can not read class org.apache.parquet",
    "TProtocolException",
    "Found duplicate column",
    "COLUMN_ALREADY_EXISTS",
)
# Storage/network trouble: checked first, because Spark wraps it in the same FAILED_READ_FILE
# error as a corrupt file, and it may pass on retry.
TRANSIENT_MARKERS = (
    "SocketTimeoutException",
    "Connection reset",
    "ConnectException",
    "Unable to execute HTTP request",
    "SdkClientException",
    "Status Code: 503",
    "SlowDown",
    "Throttl",
    "AccessDenied",
    "Access Denied",
    "403 Forbidden",
    "InterruptedIOException",
    "UnknownHostException",
)
# The object is gone (deleted or replaced between listing and the job): the version is dead.
NOT_FOUND_MARKERS = ("Path does not exist", "PATH_NOT_FOUND", "FileNotFoundException", "NoSuchKey")


def error_text(exc: BaseException) -> str:
    """Everything a Spark exception says, including the Java cause chain when there is one."""
    parts = [str(exc)]
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            parts.append(str(java))
        except Exception:  # noqa: BLE001 - best effort only
            pass
    return "\n".join(parts)


def has_marker(exc: BaseException, markers: tuple[str, ...]) -> bool:
    text = error_text(exc)
    return any(m in text for m in markers)


def one_line(exc: BaseException, limit: int = 400) -> str:
    """A single-line summary of an exception for stderr and the report."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line and not line.startswith("An error occurred while calling"):
            if line.startswith(": "):
                line = line[2:]
            return line[:limit]
    return type(exc).__name__


def marked_line(exc: BaseException, markers: tuple[str, ...], limit: int = 400) -> str:
    """The most specific line naming one of `markers` (the deepest cause), else `one_line`.

    Spark wraps the real reason ("... is not a Parquet file ...") in generic "Job aborted"
    layers; the last matching line of the cause chain is the one worth reporting.
    """
    found = None
    for line in error_text(exc).splitlines():
        line = line.strip()
        if line.startswith("at ") or not any(m in line for m in markers):
            continue
        found = line
    if found is None:
        return one_line(exc, limit)
    for prefix in ("Caused by: ", ": "):
        if found.startswith(prefix):
            found = found[len(prefix) :]
    return found[:limit]
