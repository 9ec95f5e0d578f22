"""The factory-twin command line: runs the demo, the simulator, the edge agent and the twin service."""
