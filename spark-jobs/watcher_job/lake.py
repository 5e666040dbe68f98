"""Lake layout: validating the root URI and the raw key, and deriving every output location.

```
raw/<dataset>/<any/path>/<name>.parquet   -> cleaned/<dataset>/<any/path>/<name>/
raw/<name>.parquet                        -> cleaned/default/<name>/
```
Paths are joined as plain strings with `/`; nothing here touches storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watcher_job.errors import InvalidArgumentsError, InvalidKeyError

LAKE_SCHEMES = ("s3a://", "s3://", "file://")
DEFAULT_DATASET = "default"
_PARQUET_SUFFIX = re.compile(r"\.parquet$", re.IGNORECASE)
# Hadoop glob metacharacters: spark.read globs its path, so a key holding them must be escaped.
_GLOB_CHARS = re.compile(r"([\\{}\[\]*?])")


def normalize_lake_root(uri: str, arg: str = "--lake") -> str:
    """Validate `s3a://bucket[/prefix]`, `s3://bucket[/prefix]` or `file:///abs/path`; drop trailing `/`.

    `arg` names the argument in the error (the report and manifest URIs follow the same rules).
    """
    if not isinstance(uri, str) or "\x00" in uri:
        raise InvalidArgumentsError(f"{arg} must be a URI string, got {uri!r}")
    scheme = next((s for s in LAKE_SCHEMES if uri.startswith(s)), None)
    if scheme is None:
        raise InvalidArgumentsError(f"{arg} must start with s3a://, s3:// or file:///, got {uri!r}")
    rest = uri[len(scheme) :].rstrip("/")
    if scheme == "file://":
        if not rest.startswith("/"):
            raise InvalidArgumentsError(f"{arg} file URI must be absolute (file:///abs/path), got {uri!r}")
        if rest == "":
            raise InvalidArgumentsError(f"{arg} must not be the file system root")
    elif rest == "" or rest.startswith("/"):
        raise InvalidArgumentsError(f"{arg} must name a bucket, got {uri!r}")
    segments = rest.split("/")[1:]
    if any(s in (".", "..") for s in segments):
        raise InvalidArgumentsError(f"{arg} must not contain '.' or '..' segments, got {uri!r}")
    return scheme + rest


def check_run_id(run_id: str) -> str:
    """A run id names files (`metadata/runs/<run-id>.json`): non-empty, no `/`, NUL, `.` or `..`."""
    if not isinstance(run_id, str) or not run_id or "/" in run_id or "\x00" in run_id or run_id in (".", ".."):
        raise InvalidArgumentsError(f"--run-id must be a non-empty name without '/', got {run_id!r}")
    return run_id


def default_report_uri(lake: str, run_id: str) -> str:
    return join_uri(lake, "metadata", "runs", f"{run_id}.json")


def staging_key(dataset: str) -> str:
    """The dataset's staging folder for the curated merge (`publish.py`), rewritten by each run of it."""
    return f"metadata/staging/curated/{dataset}"


def join_uri(root: str, *parts: str) -> str:
    """Join a root URI and relative parts with single slashes."""
    out = root.rstrip("/")
    for part in parts:
        part = part.strip("/")
        if part:
            out = f"{out}/{part}"
    return out


def escape_glob(uri: str) -> str:
    """Escape Hadoop glob metacharacters so `spark.read` reads exactly this path."""
    return _GLOB_CHARS.sub(r"\\\1", uri)


def local_path(uri: str) -> str | None:
    """The local file system path of a `file:` URI, else None."""
    if uri.startswith("file://"):
        return uri[len("file://") :]
    if uri.startswith("file:/"):
        return uri[len("file:") :]
    return None


@dataclass(frozen=True)
class RawFile:
    """Where one raw object sits and where its outputs go (all relative to the lake root)."""

    key: str
    dataset: str
    sub_path: tuple[str, ...]
    name: str

    def _rel(self, zone: str) -> str:
        return "/".join((zone, self.dataset, *self.sub_path, self.name))

    @property
    def cleaned(self) -> str:
        return self._rel("cleaned")

    @property
    def quarantine(self) -> str:
        return self._rel("quarantine")

    @property
    def curated(self) -> str:
        return f"curated/{self.dataset}"

    @property
    def staging(self) -> str:
        """Per-dataset staging folder for the curated merge (`staging_key`)."""
        return staging_key(self.dataset)


def parse_key(key: str) -> RawFile:
    """Validate a raw object key and derive dataset, sub path and output name."""
    if not isinstance(key, str) or key == "":
        raise InvalidKeyError("key must be a non-empty string")
    if "\x00" in key:
        raise InvalidKeyError(f"key contains a NUL character: {key!r}")
    if not key.startswith("raw/"):
        raise InvalidKeyError(f"key is not under raw/: {key!r}")
    segments = key.split("/")
    if any(s == "" for s in segments):
        raise InvalidKeyError(f"key has an empty path segment: {key!r}")
    if any(s in (".", "..") for s in segments):
        raise InvalidKeyError(f"key has a '.' or '..' segment: {key!r}")
    if ":" in key:
        # Hadoop reads `a:b` in a path segment as a URI scheme ("Relative path in absolute URI",
        # HADOOP-3257), so Spark fails to read such a file on every file system, S3A included.
        raise InvalidKeyError(f"key has a ':', which Spark's Hadoop paths cannot read; rename the object: {key!r}")
    if len(segments) < 2:
        raise InvalidKeyError(f"key names no file under raw/: {key!r}")
    name = _PARQUET_SUFFIX.sub("", segments[-1])
    if name == "":
        raise InvalidKeyError(f"key has an empty file name: {key!r}")
    if len(segments) == 2:
        return RawFile(key=key, dataset=DEFAULT_DATASET, sub_path=(), name=name)
    return RawFile(key=key, dataset=segments[1], sub_path=tuple(segments[2:-1]), name=name)


# S3 refuses longer keys (UTF-8 bytes).
S3_MAX_KEY_BYTES = 1024
# What Spark adds below an output folder: a part file is first written under
# `_temporary/0/_temporary/attempt_<job>_<stage>_m_<task>_<n>/`, then committed as
# `part-<n>-<uuid>-c000.snappy.parquet` (68 bytes); about 150 bytes in all, rounded up.
SPARK_PART_PATH_BYTES = 160


def check_output_keys_fit(lake: str, raw: RawFile) -> None:
    """On S3, refuse a raw key whose cleaned/quarantine part files would be longer than S3 allows.

    `quarantine/` is 7 bytes longer than `raw/`, so a raw key near 1,024 bytes cannot have its
    outputs written; without this check the write fails late, as if it could pass on a retry.
    """
    if not lake.startswith(("s3a://", "s3://")):
        return
    prefix = lake.split("://", 1)[1].partition("/")[2]
    longest = max((raw.cleaned, raw.quarantine), key=lambda rel: len(rel.encode("utf-8")))
    need = len(f"{prefix}/{longest}".lstrip("/").encode("utf-8")) + SPARK_PART_PATH_BYTES
    if need > S3_MAX_KEY_BYTES:
        fits = len(raw.key.encode("utf-8")) - (need - S3_MAX_KEY_BYTES)
        raise InvalidKeyError(
            f"the outputs of this key would be longer than S3's 1,024-byte limit ({longest}/ and Spark's "
            f"part-file names take about {need} bytes); shorten it to at most {fits} bytes: {raw.key!r}"
        )
