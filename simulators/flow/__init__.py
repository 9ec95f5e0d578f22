"""The planning model of a line: stations, buffers, conveyors, failures, shifts, operators; as fast as possible.

`FlowLine` builds one replication from a `plantmodel.plant.Line`; `replicate` runs many on all cores.
"""
