"""Pure computation on telemetry: OEE, anomaly detection. No sockets, files or clocks."""
