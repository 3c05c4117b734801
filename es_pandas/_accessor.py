"""``df.es``: the DataFrame accessor, a thin front over :class:`Producer`.

It holds the frame and nothing else: pandas 3 builds a new accessor on every ``df.es``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

import pandas as pd

from ._producer import Producer, produce_doc

if TYPE_CHECKING:
    from typing import Unpack

    from ._options import ProduceOptions
    from ._status import StatusFrame

__all__ = ["EventStreamsAccessor"]


@pd.api.extensions.register_dataframe_accessor("es")
class EventStreamsAccessor:
    """Send a DataFrame's rows to IBM Event Streams: ``df.es.produce("orders")``."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    @overload
    def produce(
        self,
        topic: str,
        *,
        producer: Producer | None = None,
        dry_run: Literal[False] = False,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame: ...

    @overload
    def produce(
        self,
        topic: str,
        *,
        producer: Producer | None = None,
        dry_run: Literal[True],
        **options: Unpack[ProduceOptions],
    ) -> pd.DataFrame: ...

    @overload
    def produce(
        self,
        topic: str,
        *,
        producer: Producer | None = None,
        dry_run: bool,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame | pd.DataFrame: ...

    def produce(
        self,
        topic: str,
        *,
        producer: Producer | None = None,
        dry_run: bool = False,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame | pd.DataFrame:
        if producer is None:
            return Producer(**options).produce(self._frame, topic, dry_run=dry_run)
        return producer.produce(self._frame, topic, dry_run=dry_run, **options)

    @overload
    async def aproduce(
        self,
        topic: str,
        *,
        producer: Producer | None = None,
        dry_run: Literal[False] = False,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame: ...

    @overload
    async def aproduce(
        self,
        topic: str,
        *,
        producer: Producer | None = None,
        dry_run: Literal[True],
        **options: Unpack[ProduceOptions],
    ) -> pd.DataFrame: ...

    @overload
    async def aproduce(
        self,
        topic: str,
        *,
        producer: Producer | None = None,
        dry_run: bool,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame | pd.DataFrame: ...

    async def aproduce(
        self,
        topic: str,
        *,
        producer: Producer | None = None,
        dry_run: bool = False,
        **options: Unpack[ProduceOptions],
    ) -> StatusFrame | pd.DataFrame:
        if producer is None:
            return await Producer(**options).aproduce(self._frame, topic, dry_run=dry_run)
        return await producer.aproduce(self._frame, topic, dry_run=dry_run, **options)


EventStreamsAccessor.produce.__doc__ = produce_doc(
    after="producer : Producer, optional\n"
    "    Reusable settings, credentials and defaults; the options given here come first.\n"
)
EventStreamsAccessor.aproduce.__doc__ = Producer.aproduce.__doc__
