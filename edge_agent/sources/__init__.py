"""Sources: one module per protocol; each registers itself with `edge_agent.plugins.source`."""
