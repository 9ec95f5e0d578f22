"""The edge agent: OPC-UA and MQTT in, the historian and the unified namespace out."""
