"""For writing an engine of your own: the transport contract and its errors.

    import es_pandas.transports as t

    class MyTransport(t.AsyncTransport):
        def __init__(self, config: t.TransportConfig) -> None: ...
        async def send(self, method, url, headers, body) -> t.Response: ...
        async def aclose(self) -> None: ...

    df.es.produce("orders", engine=MyTransport)

A run never lets these errors out: they become a row's ``error`` (and its status
``failed`` or ``unknown`` by ``sent``) or, when nothing gets through, a
:class:`es_pandas.ConnectionFailed` (:class:`es_pandas.ServiceUnavailable` once the
server has answered in the run). ``send`` ends each request within ``config.timeout``;
an engine that raises anything else, returns anything but a :class:`Response`, or has
not ended a request after twice the timeout stops the run (``ProduceAborted``), that
row ``unknown``. :class:`MockTransport` answers from a function, for
tests.
"""

from ._transports import (
    AsyncTransport,
    ConnectError,
    ConnectTimeout,
    MockTransport,
    Proxy,
    ProxyError,
    RemoteProtocolError,
    Response,
    ResponseTimeout,
    TLSError,
    TransportConfig,
    TransportError,
)

__all__ = [
    "AsyncTransport",
    "ConnectError",
    "ConnectTimeout",
    "MockTransport",
    "Proxy",
    "ProxyError",
    "RemoteProtocolError",
    "Response",
    "ResponseTimeout",
    "TLSError",
    "TransportConfig",
    "TransportError",
]

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
