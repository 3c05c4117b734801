"""A local implementation of IBM Event Streams' REST producer API.

For tests, notebooks, demos and offline ETL development, as the Pub/Sub emulator
or Azurite are for their clouds: a real HTTP server on a real socket.
"""

from ._app import create_app
from ._config import ServerConfig, parse_schema_spec, parse_topic_spec
from ._faults import Fault, FaultConfig
from ._kafka import KafkaStore
from ._local import LocalEventStreams
from ._partitioner import murmur2, partition_for_key
from ._storage import Record, SQLiteStore, Store, StoreError

__all__ = [
    "Fault",
    "FaultConfig",
    "KafkaStore",
    "LocalEventStreams",
    "Record",
    "SQLiteStore",
    "ServerConfig",
    "Store",
    "StoreError",
    "create_app",
    "murmur2",
    "parse_schema_spec",
    "parse_topic_spec",
    "partition_for_key",
]
