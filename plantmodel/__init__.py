"""The shared vocabulary of factory-twin: the plant model, the telemetry schema and the unified namespace."""
