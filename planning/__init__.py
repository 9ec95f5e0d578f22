"""What-if planning and decisions on the line simulator: scenarios against a baseline, the planner's report,
analytical estimates, calibration from history, maintenance decisions, replications on a Dask cluster.

Builds on `simulators`, `analytics` and the historian's interface; the twin runs it only through the planner
`factory-twin` hands it (`twin.plan_request.Planner`).
"""
