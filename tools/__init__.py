"""Development helpers: the notebook and README generators (scripts), and the Tansu
broker the tests and the benchmarks both start (``tools.kafka_broker``)."""
