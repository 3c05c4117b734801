"""The bundled sample data: 3,000 realistic orders, used by the demo and the docs."""

from __future__ import annotations

from importlib.resources import files

import pandas as pd

__all__ = ["SAMPLE", "sample_orders"]

SAMPLE = files("es_pandas") / "data" / "orders.csv"


def sample_orders() -> pd.DataFrame:
    """The demo's 3,000 sample orders (ids, timestamps, amounts, some missing values)."""
    return pd.read_csv(str(SAMPLE), dtype_backend="numpy_nullable")
