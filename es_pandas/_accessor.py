"""``df.es``: the DataFrame accessor, a thin front over :class:`Producer`.

It holds the frame and nothing else: pandas 3 builds a new accessor on every ``df.es``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    "    A reusable connection and default options; the options given here come first.\n"
)
EventStreamsAccessor.aproduce.__doc__ = Producer.aproduce.__doc__
