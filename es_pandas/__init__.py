"""Send pandas DataFrames to IBM Event Streams through its REST producer API.

import es_pandas                       # registers the DataFrame accessor df.es
status = df.es.produce("orders", key_col="order_id")
"""

from . import _accessor  # noqa: F401 - registers df.es
from .__version__ import __version__
from ._auth import APIKeyAuth, Auth, BasicAuth, BearerAuth, IAMAuth, XAuthTokenAuth
from ._config import ENVIRONMENT_VARIABLES, Limits, Retry
from ._exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConnectError,
    ConnectionFailed,
    ConnectTimeout,
    EventStreamsError,
    PermissionDeniedError,
    ProduceAborted,
    ProduceError,
    ProduceInterrupted,
    RemoteProtocolError,
    TimeoutError,
    TopicNotFoundError,
    TransportError,
)
from ._files import produce_file
from ._producer import Producer
from ._progress import ProgressEvent
from ._sample import sample_orders
from ._status import STATUSES, StatusFrame, Summary
from ._transports import AsyncTransport, Response
from .server import LocalEventStreams

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "STATUSES",
    "APIKeyAuth",
    "AsyncTransport",
    "Auth",
    "AuthenticationError",
    "BasicAuth",
    "BearerAuth",
    "ConfigurationError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionFailed",
    "EventStreamsError",
    "IAMAuth",
    "Limits",
    "LocalEventStreams",
    "PermissionDeniedError",
    "ProduceAborted",
    "ProduceError",
    "ProduceInterrupted",
    "Producer",
    "ProgressEvent",
    "RemoteProtocolError",
    "Response",
    "Retry",
    "StatusFrame",
    "Summary",
    "TimeoutError",
    "TopicNotFoundError",
    "TransportError",
    "XAuthTokenAuth",
    "__version__",
    "produce_file",
    "sample_orders",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and _obj.__module__.startswith("es_pandas._"):
        _obj.__module__ = "es_pandas"
del _name, _obj
