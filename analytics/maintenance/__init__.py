"""Predictive maintenance: a health indicator from an asset's signals, its degradation trend, the remaining useful
life (RUL) with an interval, RUL learned from a fleet's run-to-failure histories, and conformal calibration of any
RUL estimate's interval."""

from analytics.maintenance.conformal import ConformalRul
from analytics.maintenance.fleet import FleetRul, window_features
from analytics.maintenance.health import HealthIndicator
from analytics.maintenance.rul import MaintenanceAlert, RulEstimate, maintenance_alert, remaining_useful_life
from analytics.maintenance.trend import TrendRul

__all__ = ["ConformalRul", "FleetRul", "HealthIndicator", "MaintenanceAlert", "RulEstimate", "TrendRul",
           "maintenance_alert", "remaining_useful_life", "window_features"]
