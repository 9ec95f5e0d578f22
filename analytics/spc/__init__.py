"""Statistical process control: control charts, run rules and capability indices."""

from analytics.spc.capability import Capability, capability
from analytics.spc.charts import ControlChart, cusum, ewma, imr, xbar_r, xbar_s
from analytics.spc.rules import NELSON, WESTERN_ELECTRIC, Violation, violations

__all__ = ["NELSON", "WESTERN_ELECTRIC", "Capability", "ControlChart", "Violation", "capability", "cusum", "ewma",
           "imr", "violations", "xbar_r", "xbar_s"]
