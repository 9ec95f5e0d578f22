"""OEE by ISO 22400-2: time model, KPIs, six big losses, shift calendars, live and batch computation."""

from analytics.oee.batch import OeeOptions, OeeWindow, Window, oee_windows
from analytics.oee.calendar import PlannedPeriod, ShiftCalendar, Span, always
from analytics.oee.model import Counts, Kpis, SixLosses, TimeModel, compute_kpis, six_losses
from analytics.oee.states import EventLog

__all__ = ["Counts", "EventLog", "Kpis", "OeeOptions", "OeeWindow", "PlannedPeriod", "ShiftCalendar", "SixLosses",
           "Span", "TimeModel", "Window", "always", "compute_kpis", "oee_windows", "six_losses"]
