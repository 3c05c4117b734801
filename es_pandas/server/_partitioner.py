"""Kafka's default partitioner, so records land where a Java or librdkafka
(``partitioner=murmur2_random``) producer would put them."""

from __future__ import annotations

import itertools

__all__ = ["Partitioner", "murmur2", "partition_for_key"]

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data`` as the signed 32-bit int ``Utils.murmur2`` returns."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    tail = length & ~3
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    rest = length & 3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


def partition_for_key(key: bytes, partitions: int) -> int:
    """``Utils.toPositive(Utils.murmur2(key)) % partitions``, as Kafka's producer does."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class Partitioner:
    """Keyed records go by murmur2; unkeyed ones are spread round-robin per topic."""

    def __init__(self) -> None:
        self._round_robin: dict[str, itertools.count[int]] = {}

    def partition(self, topic: str, key: bytes | None, partitions: int) -> int:
        if key is not None:
            return partition_for_key(key, partitions)
        counter = self._round_robin.setdefault(topic, itertools.count())
        return next(counter) % partitions
