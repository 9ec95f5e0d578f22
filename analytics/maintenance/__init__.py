"""Predictive maintenance: a health indicator from an asset's signals, its degradation trend, and the remaining
useful life (RUL) with an interval."""

from analytics.maintenance.health import HealthIndicator
from analytics.maintenance.rul import MaintenanceAlert, RulEstimate, maintenance_alert, remaining_useful_life

__all__ = ["HealthIndicator", "MaintenanceAlert", "RulEstimate", "maintenance_alert", "remaining_useful_life"]
