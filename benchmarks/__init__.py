"""Benchmarks (`factory-twin bench NAME`) and what only they and the tests use: load generators, the servers
they start on loopback (mosquitto, VictoriaMetrics, InfluxDB 1.x), delivery counting, provenance and the public
data sets' readers. Not shipped: the image and a wheel leave this package out; it runs from a source checkout."""
