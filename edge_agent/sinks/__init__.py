"""Sinks: one module per destination; each registers itself with `edge_agent.plugins.sink`."""
