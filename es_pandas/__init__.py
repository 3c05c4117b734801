"""Send pandas DataFrames to IBM Event Streams through its REST producer API.

    import es_pandas                       # registers the DataFrame accessor df.es
    status = df.es.produce("orders", key_col="order_id")
    summary = ddf.es.produce("orders")     # a Dask DataFrame's, from its workers

``import es_pandas`` loads pandas and this package's options, checks and answers only:
the run machinery (the HTTP engine, the Kafka protocol, files, Avro) is imported when a
run starts, and the local server (``LocalEventStreams``), the CLI and Parquet support
on first use; Dask is not imported: ``ddf.es`` is registered when ``dask.dataframe`` is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _accessor  # noqa: F401 - registers df.es
from .__version__ import __version__
from ._auth import APIKeyAuth, Auth, BasicAuth, BearerAuth, IAMAuth, XAuthTokenAuth
from ._dask import register_when_dask_loads
from ._exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    EndpointError,
    EventStreamsError,
    PermissionDeniedError,
    ProduceAborted,
    ProduceError,
    ProduceInterrupted,
    SchemaError,
    ServiceUnavailable,
    TopicNotFoundError,
)
from ._options import ENVIRONMENT_VARIABLES, FileOptions, ProduceOptions
from ._pressure import Slowdown
from ._producer import Producer, produce_file
from ._progress import ProgressEvent
from ._retry import Retry
from ._sample import sample_orders
from ._status import STATUSES, StatusFrame, Summary
from ._wire import Limits

if TYPE_CHECKING:
    from ._wire.avro_infer import infer_schema
    from .server import LocalEventStreams

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "STATUSES",
    "APIKeyAuth",
    "Auth",
    "AuthenticationError",
    "BasicAuth",
    "BearerAuth",
    "ConfigurationError",
    "ConnectionFailed",
    "EndpointError",
    "EventStreamsError",
    "FileOptions",
    "IAMAuth",
    "Limits",
    "LocalEventStreams",
    "PermissionDeniedError",
    "ProduceAborted",
    "ProduceError",
    "ProduceInterrupted",
    "ProduceOptions",
    "Producer",
    "ProgressEvent",
    "Retry",
    "SchemaError",
    "ServiceUnavailable",
    "Slowdown",
    "StatusFrame",
    "Summary",
    "TopicNotFoundError",
    "XAuthTokenAuth",
    "__version__",
    "infer_schema",
    "produce_file",
    "sample_orders",
]

for _name in __all__:
    _obj = globals().get(_name)
    if getattr(_obj, "__module__", "").startswith("es_pandas._"):
        _obj.__module__ = "es_pandas"
del _name, _obj
register_when_dask_loads()


def __getattr__(name: str) -> Any:
    # Only when asked for: the local server pulls in uvicorn, starlette and sqlite3, and
    # Avro's inference its type rules (a run loads them when it sends Avro).
    if name == "LocalEventStreams":
        from .server import LocalEventStreams

        return LocalEventStreams
    if name == "infer_schema":
        from ._wire.avro_infer import infer_schema

        return infer_schema
    raise AttributeError(f"module 'es_pandas' has no attribute {name!r}")
