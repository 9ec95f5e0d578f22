"""The simulated plant: SimPy line models and the OPC-UA and MQTT interfaces they are served through."""
