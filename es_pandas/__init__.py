"""Send pandas DataFrames to IBM Event Streams through its REST producer API."""

from .__version__ import __version__
from .server import LocalEventStreams

__all__ = ["LocalEventStreams", "__version__"]
