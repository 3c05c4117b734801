"""The Avro schema a file load would infer, without sending anything (``es-pandas
schema``): the file is read as ``produce_file`` reads it, up to its first chunk, and
the schema is the one the load's own encoder would send."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from ._config import DEFAULTS
from ._exceptions import ConfigurationError
from ._files import FileLoad
from ._options import FILE_OPTIONS, SCHEMA_OPTIONS, check_options
from ._run import record_encoder
from ._status import Tally

if TYPE_CHECKING:
    from typing import Unpack

    from ._options import FileOptions

__all__ = ["file_schema"]


def file_schema(
    path: str | os.PathLike[str],
    topic: str | None = None,
    *,
    key: bool = False,
    **options: Unpack[FileOptions],
) -> Any:
    """The Avro schema (as JSON: a dict, or a primitive's name) that
    ``produce_file(path, topic, value_format="avro", **options)`` infers and sends for
    the values, or with ``key=True`` that ``key_format="avro"`` infers for the keys.

    Only the options in ``SCHEMA_OPTIONS`` are taken: how the file is read and the
    columns' roles. ``topic`` names the record as a load names it; without one,
    ``schema_name`` must. Nothing is sent, and no URL or credentials are needed.
    """
    checked = check_options(options, SCHEMA_OPTIONS)
    # with no topic, schema_name names the record, and the topic nothing else
    named_by: str | None = checked.get("schema_name") if topic is None else topic
    if named_by is None:
        raise ConfigurationError(
            "give a topic or schema_name: an inferred record is named after the topic"
        )
    if key and checked.get("key_col") is None:
        raise ConfigurationError("the key schema needs key_col, the column of the keys")
    # every option of a run, as a load's encoder is given them
    every = {
        **DEFAULTS,
        **checked,
        "value_format": "json" if key else "avro",
        "key_format": "avro" if key else "text",
    }
    load = FileLoad(
        os.fspath(path),
        every["chunksize"],
        Tally(),
        key_col=every["key_col"],
        **{k: v for k, v in checked.items() if k in FILE_OPTIONS},
    )
    try:
        load.open()
        dtypes, _ = load.chunks()
        if dtypes is None:
            raise ConfigurationError(f"{load.name} has no rows to infer a schema from")
        encoder = record_encoder(
            every,
            named_by,
            dtypes,
            "v2",  # where schemas are inferred: v1 sends only a registered one
            sample=load.sample,
            nullable=True,
        )
    finally:
        load.close()
    schema = encoder.key_schema if key else encoder.value_schema
    assert schema is not None
    return json.loads(schema)
