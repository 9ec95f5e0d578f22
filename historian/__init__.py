"""History of samples and events behind one interface; the embedded SQLite store needs no server."""

from historian.base import Historian
from historian.sqlite import SqliteHistorian

__all__ = ["Historian", "SqliteHistorian"]
