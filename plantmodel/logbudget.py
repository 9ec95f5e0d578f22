"""A budget for repetitive log lines: junk input arriving at a thousand messages a second must not turn into a
thousand warnings a second (a full disk, a log pipeline drowned). Counting still sees every one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class LogBudget:
    """At most `lines` log lines per `per_s` seconds for each key; the rest are counted and reported in one line
    when the next period opens. Thread-safe (MQTT callbacks run on their clients' threads)."""

    def __init__(self, logger: logging.Logger, lines: int = 20, per_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.lines, self.per_s, self.clock = logger, lines, per_s, clock
        self._periods: dict[str, tuple[float, int, int]] = {}  # key -> (period start, logged, suppressed)
        self._lock = threading.Lock()

    def warning(self, key: str, msg: str, *args: object, **kwargs: object) -> None:
        now = self.clock()
        with self._lock:
            start, logged, suppressed = self._periods.get(key, (now, 0, 0))
            if now - start >= self.per_s:
                if suppressed:
                    self.logger.warning("%d more like the above (%s) in the last %.0f s, not logged", suppressed,
                                        key, now - start)
                start, logged, suppressed = now, 0, 0
            if logged >= self.lines:
                self._periods[key] = (start, logged, suppressed + 1)
                return
            self._periods[key] = (start, logged + 1, suppressed)
            if len(self._periods) > 1000:  # keys are reasons, not topics; this only guards a misuse
                self._periods.clear()
        self.logger.warning(msg, *args, **kwargs)  # type: ignore[arg-type]
