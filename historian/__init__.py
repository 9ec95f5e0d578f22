"""History of samples and events behind one interface; the embedded SQLite store needs no server."""

from historian.base import Historian, Rejection, Window, WriteReport
from historian.retention import RetentionRule
from historian.sqlite import SqliteHistorian

__all__ = ["Historian", "Rejection", "RetentionRule", "SqliteHistorian", "Window", "WriteReport"]
