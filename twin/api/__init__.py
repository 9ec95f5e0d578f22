"""HTTP routers of the twin service, one module per resource."""
