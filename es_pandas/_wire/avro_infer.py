"""Avro schemas inferred from a frame: its dtypes and, in object columns, its values.

The policy is :func:`infer_schema`'s documentation; a file's schema is inferred from
its first chunk with ``nullable=True``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import numpy as np
import pandas as pd

from .._exceptions import ConfigurationError
from .avro_logical import unscaled_decimal
from .avro_types import is_missing
from .columns import arrow_as_pandas, unsendable

__all__ = ["Names", "avro_name", "check_name", "column_type", "infer_schema"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LONGS = {"int64", "uint32", "uint64"}


def check_name(name: object, where: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"{where} is not a valid Avro name (a letter or _, then letters, digits or _)"
        )


def avro_name(text: str) -> str:
    """``text`` (a topic) as an Avro name: each other character becomes ``_``, and a
    leading digit gets a ``_`` before it."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return f"_{name}" if not name or name[0].isdigit() else name


def infer_schema(
    frame: pd.DataFrame,
    *,
    topic: str | None = None,
    name: str | None = None,
    namespace: str | None = None,
    nullable: bool = False,
) -> dict[str, Any]:
    """The Avro record schema that ``value_format="avro"`` infers for ``frame``: one
    field per column, typed from the dtypes and, in object columns, the values.

    Parameters
    ----------
    frame : DataFrame
        The value columns (``produce`` leaves the key and header columns out).
    topic : str, optional
        Names the record as ``produce`` does, each character an Avro name cannot
        hold becoming ``_`` (and a leading digit getting a ``_`` before it).
    name : str, optional
        The record's name (``schema_name``), before ``topic``; default "Record".
    namespace : str, optional
        The record's namespace (``schema_namespace``).
    nullable : bool, default False
        Every field ``["null", T]``, as for a file, whose rows after its first chunk
        are unseen (a column with no value then is refused: its type is unknown).

    Returns
    -------
    dict
        The schema, as ``json.dumps`` writes it to an ``.avsc`` file.

    Raises
    ------
    ConfigurationError
        A column that is not a valid Avro name, or whose values have no one type.

    Notes
    -----
    One field per column, named as the column (a column whose name is not a valid
    Avro name is refused, naming it):

    - int64/Int64, uint32/uint64 (and UInt32/UInt64) -> long; narrower ints -> int;
      uint64 values over 2**63-1 reject their rows;
    - float64/Float64 -> double, float32/Float32 -> float; bool/boolean -> boolean;
    - string, and object columns of str -> string; of bytes -> bytes;
    - datetime64 without a zone -> ``local-timestamp-micros`` (the wall time); with a
      zone -> ``timestamp-micros``: the UTC instant, without the zone's name (keep it
      in a column of its own if readers need it); a timestamp with nanoseconds
      rejects its row, it is never truncated;
    - datetime.date -> ``date``, datetime.time -> ``time-micros``, UUID -> ``uuid``;
    - Decimal -> ``decimal`` (bytes) of the values' precision and scale; a later value
      needing more rejects its row, it is never rounded;
    - categorical -> the type of its categories (string for text), not an enum:
      an enum's symbols would fix the categories in the schema;
    - lists -> array of their items' type; dicts -> map of their values' type, or,
      when the values have several types and every dict has the same keys, a record
      of those keys, named ``<record>_<column>``;
    - an object column of ints and floats -> double, when every int is exactly a
      double; any other mix of types is refused, naming the column and the types;
    - a column with a missing value (None, NaN, NaT, NA) -> ``["null", T]`` with
      default null; a column of missing values only -> ``"null"``.

    ``df.es.produce(topic, value_format="avro")`` sends the schema
    ``infer_schema(value columns, topic=topic, nullable=False)``;
    ``produce_file`` that of its first chunk, typed as sent, with ``nullable=True``.
    """
    record = name or (avro_name(topic) if topic else "Record")
    check_name(record, f"the record name {record!r}")
    if namespace:
        for part in namespace.split("."):
            check_name(part, f"the namespace {namespace!r}")
    names = Names(record)
    fields = []
    taken: dict[str, object] = {}
    for i, column in enumerate(frame.columns):
        field = str(column)
        check_name(field, f"column {column!r}: its name")
        if field in taken:
            raise ConfigurationError(
                f"columns {taken[field]!r} and {column!r} would both be the field {field!r}"
            )
        taken[field] = column
        values = frame.iloc[:, i]
        kind = column_type(values, repr(column), f"{record}_{field}", names, nullable)
        fields.append({"name": field, "type": kind, **_default(kind)})
    schema: dict[str, Any] = {"type": "record", "name": record}
    if namespace:
        schema["namespace"] = namespace
    schema["fields"] = fields
    return schema


def _default(kind: Any) -> dict[str, Any]:
    nullable = kind == "null" or (isinstance(kind, list) and "null" in kind)
    return {"default": None} if nullable else {}


class Names:
    """The names given to records so far: each new one is unique in the schema."""

    def __init__(self, *taken: str) -> None:
        self._taken = set(taken)

    def new(self, name: str) -> str:
        unique, n = name, 1
        while unique in self._taken:
            n += 1
            unique = f"{name}_{n}"
        self._taken.add(unique)
        return unique


class _SeveralTypes(Exception):
    """Values of more than one type, where one is needed (a dict's values: then perhaps
    a record's fields)."""


def column_type(
    column: pd.Series, where: str, name: str, names: Names, nullable: bool, nulls: bool = True
) -> Any:
    column = arrow_as_pandas(column)  # as the encoder reads it
    dtype = column.dtype
    missing = bool(column.isna().any()) if nulls else False
    if isinstance(dtype, pd.CategoricalDtype):
        kind: Any = column_type(pd.Series(dtype.categories), where, name, names, False)
    else:
        kind = _dtype_type(dtype, where)
        if kind is None:
            present = [v for v in column.tolist() if not is_missing(v)]
            missing = nulls and len(present) < len(column)
            try:
                kind = _values_type(present, where, name, names) if present else None
            except _SeveralTypes as exc:
                raise ConfigurationError(str(exc)) from None  # the class is this module's
    if kind is None:
        if nullable:
            raise ConfigurationError(
                f"column {where} has no value in the rows seen (a file's first chunk) to "
                "infer its type from: pass value_schema="
            )
        return "null"
    return ["null", kind] if (missing or nullable) and kind != "null" else kind


def _dtype_type(dtype: object, where: str) -> Any:
    """The type of every value of a column of ``dtype``; None when its values decide."""
    problem = unsendable(dtype)
    if problem:
        raise ConfigurationError(f"column {where} is {dtype}: {problem}")
    if isinstance(dtype, pd.DatetimeTZDtype):
        return {"type": "long", "logicalType": "timestamp-micros"}
    if isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and str(dtype.pyarrow_dtype) in ("string", "large_string")
    ):
        return "string"
    numpy_dtype = dtype if isinstance(dtype, np.dtype) else getattr(dtype, "numpy_dtype", None)
    if not isinstance(numpy_dtype, np.dtype):
        return None
    kind = numpy_dtype.kind
    if isinstance(dtype, pd.ArrowDtype) and kind not in "biuf":
        return None  # Arrow timestamps, decimals, lists, ...: by their values
    if kind == "M":
        return {"type": "long", "logicalType": "local-timestamp-micros"}
    if kind == "m":
        raise ConfigurationError(
            f"column {where} is {dtype}: Avro has no type that holds a timedelta as it is; "
            "convert it (.dt.total_seconds(), or to microseconds with "
            ".dt.as_unit('us').astype('int64')) or pass value_schema="
        )
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "long" if numpy_dtype.name in _LONGS else "int"
    if kind == "f":
        return "float" if numpy_dtype.itemsize <= 4 else "double"
    return None


# a value's type, by its Python type; ints and floats apart from bools
_KINDS: tuple[tuple[tuple[type, ...], str], ...] = (
    ((bool, np.bool_), "boolean"),
    ((int, np.integer), "long"),
    ((float, np.floating), "double"),
    ((str,), "string"),
    ((bytes, bytearray, memoryview), "bytes"),
    ((datetime, np.datetime64), "timestamp"),
    ((date,), "date"),
    ((time,), "time"),
    ((Decimal,), "decimal"),
    ((UUID,), "uuid"),
    ((Mapping,), "dict"),
    ((list, tuple, np.ndarray), "list"),
)


def _kind(value: object, where: str) -> str:
    for types, kind in _KINDS:
        if isinstance(value, types):
            if kind == "timestamp":
                return "timestamp" if getattr(value, "tzinfo", None) else "local timestamp"
            return kind
    raise ConfigurationError(
        f"column {where}: {type(value).__name__} values have no Avro type; convert them "
        "or pass value_schema="
    )


def _values_type(values: list[object], where: str, name: str, names: Names) -> Any:
    """The one type of ``values`` (none missing)."""
    groups: dict[str, list[object]] = {}
    for value in values:
        groups.setdefault(_kind(value, where), []).append(value)
    # compared as Python numbers, which compare exactly (numpy's would as floats)
    if set(groups) == {"long", "double"} and all(
        float(int(v)) == int(v)  # type: ignore[call-overload]
        for v in groups["long"]
    ):
        return "double"
    if len(groups) > 1:
        raise _SeveralTypes(
            f"column {where} holds values of several types ({', '.join(sorted(groups))}): an "
            "Avro field has one; make them one type, or pass value_schema= (a union type "
            "can hold several)"
        )
    [(kind, group)] = groups.items()
    if kind in ("boolean", "long", "double", "string", "bytes"):
        return kind
    if kind == "timestamp":
        return {"type": "long", "logicalType": "timestamp-micros"}
    if kind == "local timestamp":
        return {"type": "long", "logicalType": "local-timestamp-micros"}
    if kind in ("date", "uuid"):
        return {"type": "int" if kind == "date" else "string", "logicalType": kind}
    if kind == "time":
        return {"type": "long", "logicalType": "time-micros"}
    if kind == "decimal":
        return _decimal_type(group)  # type: ignore[arg-type]
    if kind == "list":
        return {"type": "array", "items": _items_type(group, where, name, names)}  # type: ignore[arg-type]
    return _dict_type(group, where, name, names)  # type: ignore[arg-type]


def _nested(values: list[object], where: str, name: str, names: Names) -> Any:
    """The type of values inside lists or dicts, ``["null", T]`` if some are missing;
    "null" when all are (or there are none)."""
    present = [v for v in values if not is_missing(v)]
    if not present:
        return "null"
    kind = _values_type(present, where, name, names)
    return ["null", kind] if len(present) < len(values) else kind


def _items_type(lists: list[Sequence[object]], where: str, name: str, names: Names) -> Any:
    return _nested([item for items in lists for item in items], f"{where} items", name, names)


def _dict_type(
    dicts: list[Mapping[object, object]], where: str, name: str, names: Names
) -> dict[str, Any]:
    keys = {key for d in dicts for key in d}
    bad = next((k for k in keys if not isinstance(k, str)), None)
    if bad is not None:
        raise ConfigurationError(
            f"column {where}: dict key {bad!r} is not a string, as Avro map keys and "
            "field names are; pass value_schema="
        )
    values = [value for d in dicts for value in d.values()]
    try:
        return {"type": "map", "values": _nested(values, f"{where} values", name, names)}
    except _SeveralTypes:
        if any(set(d) != keys for d in dicts):
            raise _SeveralTypes(
                f"column {where} holds dicts whose values have several types and whose keys "
                "differ: neither an Avro map (one value type) nor a record (the same "
                "fields); pass value_schema="
            ) from None
    record = names.new(name)
    fields = []
    for key in sorted(keys, key=list(dicts[0]).index):
        check_name(key, f"column {where}: dict key {key!r}")
        kind = _nested([d[key] for d in dicts], f"{where}[{key!r}]", f"{record}_{key}", names)
        fields.append({"name": key, "type": kind, **_default(kind)})
    return {"type": "record", "name": record, "fields": fields}


def _decimal_type(values: list[Decimal]) -> dict[str, Any]:
    finite = [v for v in values if v.is_finite()]
    scale = max((max(-int(v.as_tuple().exponent), 0) for v in finite), default=0)
    digits = [unscaled_decimal(v, scale) for v in finite]
    precision = max((len(str(abs(d))) for d in digits if d is not None), default=1)
    # Avro wants scale <= precision: 0.001 is decimal(3, 3)
    return {
        "type": "bytes",
        "logicalType": "decimal",
        "precision": max(precision, scale),
        "scale": scale,
    }
