from collections import Counter

import pytest

from es_pandas.server import murmur2, partition_for_key
from es_pandas.server._partitioner import Partitioner

# Apache Kafka's own vectors (org.apache.kafka.common.utils.UtilsTest.testMurmur2)
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), KAFKA_VECTORS.items())
def test_murmur2_matches_kafka(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


def test_partition_is_to_positive_modulo() -> None:
    # toPositive(-790332482) = 1357151166; 1357151166 % 50 = 16
    assert partition_for_key(b"foobar", 50) == 16
    assert all(0 <= partition_for_key(bytes([i]), 7) < 7 for i in range(256))


def test_unkeyed_records_spread_round_robin() -> None:
    partitioner = Partitioner()
    picks = Counter(partitioner.partition("t", None, 3) for _ in range(300))
    assert picks == {0: 100, 1: 100, 2: 100}


def test_keyed_records_stick_to_one_partition() -> None:
    partitioner = Partitioner()
    assert {partitioner.partition("t", b"abc", 7) for _ in range(20)} == {479470107 % 7}
