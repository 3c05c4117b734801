"""The file formats a load reads, told from a file's name, and how to read one."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

from ._exceptions import ConfigurationError

__all__ = ["FORMATS", "OPENERS", "Format", "ReadOptions", "file_format"]

FORMATS = ("csv", "tsv", "jsonl", "parquet")
Format = Literal["csv", "tsv", "jsonl", "parquet"]
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def _zip_member(source: Any, mode: str) -> IO[bytes]:
    """The one file a .zip archive holds, as pandas reads a zipped CSV; read as bytes
    (``mode`` is "rb", as for the other openers)."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        # a pipe cannot be read as a zip: its directory is at the end
        raise ValueError(f"it cannot be read as a .zip archive ({exc})") from None
    with archive:
        members = [member for member in archive.infolist() if not member.is_dir()]
        if len(members) != 1:
            raise ValueError(
                f"a .zip archive is read when it holds one file; this one holds {len(members)}"
            )
        # the archive's file stays open until its member is closed
        return archive.open(members[0])


#: what a file is read through, by its last suffix (orders.csv.gz)
OPENERS: dict[str, Callable[..., Any]] = {
    ".gz": gzip.open,
    ".bz2": bz2.open,
    ".xz": lzma.open,
    ".zip": _zip_member,
}


def file_format(path: str, format: str | None) -> Format:
    if format is not None:
        if format not in FORMATS:
            raise ConfigurationError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
        return cast(Format, format)
    if path == "-":
        return "csv"
    suffixes = Path(path).suffixes
    if suffixes and suffixes[-1] in OPENERS:
        suffixes = suffixes[:-1]
    try:
        return cast(Format, _SUFFIXES[suffixes[-1].lower()])
    except (KeyError, IndexError):
        raise ConfigurationError(
            f"cannot tell the format of {path!r} from its name: pass format= (--format) "
            f"as one of {', '.join(FORMATS)}"
        ) from None


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file (the file options of a load)."""

    format: Format
    encoding: str = "utf-8"
    sep: str | None = None
    na_values: tuple[str, ...] = ()
    dtype: Mapping[str, str] = field(default_factory=dict)
    infer_types: bool = False
    #: always read as text
    key_col: Hashable | None = None
    #: how the numbers of int and float columns are written
    decimal: str = "."
    thousands: str | None = None
