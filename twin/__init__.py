"""The twin service: live state of every asset, served over HTTP."""
