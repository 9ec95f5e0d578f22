"""The twin's own metrics in the Prometheus text format, written by hand like the agent's (edge_agent/health.py).

Served at `/metrics` to a caller with the viewer role: Prometheus sends the viewer key as a bearer token
(`authorization: {credentials_file: ...}` in its scrape config). Series:

- `factory_twin_twin_messages_total{line}`: UNS messages taken in, by the line their topic belongs to
- `factory_twin_twin_rejected_total{reason}`: messages refused (kept at `/api/rejected`)
- `factory_twin_twin_broker_connected`, `factory_twin_twin_broker_reconnects_total`
- `factory_twin_twin_ingest_latency_seconds`: histogram of a sample's source timestamp to the twin's state
- `factory_twin_twin_alerts_open{severity}` (not closed), `factory_twin_twin_alerts_raised_total` (since start),
  `factory_twin_twin_alerts_state{state}`, `factory_twin_twin_alerts_flooding`,
  `factory_twin_twin_alert_notifications_total{target,outcome}` (sent, failed, dropped),
  `factory_twin_twin_alert_notifications_suppressed_total` (held back in floods)
- `factory_twin_twin_http_request_duration_seconds{method,route,status}`: histogram per route template
- `factory_twin_twin_websocket_clients`: WebSocket connections open now
- `factory_twin_twin_event_loop_stall_seconds`: histogram of how late the event loop ran a 50 ms timer;
  `factory_twin_twin_event_loop_stall_max_seconds{window}`: the longest stall since start, in the last minute
  and in the last 10 s
- `factory_twin_twin_feed_silent`, `factory_twin_twin_feed_silence_restarts_total`

Every label takes a bounded set of values: lines of the plant model (other topics count as `other`), reasons,
route templates, targets of the configuration.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from twin.app_state import TwinServices

# 1 ms to 30 s, about four buckets per decade: end-to-end latency and request latency alike
LATENCY_BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
                   0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


# end-to-end latency: fine steps where a healthy pipeline sits (tens to hundreds of ms), so p50 and p99 are
# read to within a few per cent rather than a factor between coarse bounds
INGEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.125, 0.15, 0.175, 0.2,
                  0.225, 0.25, 0.275, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0,
                  4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0)


class Histogram:
    """Cumulative buckets as Prometheus wants them, plus sum and count."""

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.bounds = tuple(buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def exposition(self, name: str, labels: str = "") -> Iterable[str]:
        sep = "," if labels else ""
        running = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            yield f'{name}_bucket{{{labels}{sep}le="{le}"}} {running}'
        braces = f"{{{labels}}}" if labels else ""
        yield f"{name}_sum{braces} {self.sum}"
        yield f"{name}_count{braces} {self.count}"


def quantile(buckets: Sequence[tuple[float, int]], q: float) -> float | None:
    """Prometheus' histogram_quantile on cumulative (upper bound, count) pairs: linear within the bucket."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * ((rank - below) / (cumulative - below) if cumulative > below else 1.0)
        lower, below = bound, cumulative
    return lower


class TwinMetrics:
    """Request latencies and WebSocket clients; the feed and the alerts are read when scraped."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], Histogram] = {}
        self.websockets = 0

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        hist = self.requests.get(key)
        if hist is None:
            hist = self.requests[key] = Histogram()
        hist.observe(seconds)

    def exposition(self, services: TwinServices) -> str:
        feed = services.feed
        lines = ["# HELP factory_twin_twin_messages_total UNS messages taken in, by line",
                 "# TYPE factory_twin_twin_messages_total counter"]
        lines += [f'factory_twin_twin_messages_total{{line="{_esc(line)}"}} {n}'
                  for line, n in sorted(feed.messages_by_line.items())]
        lines += ["# HELP factory_twin_twin_rejected_total UNS messages refused, by reason",
                  "# TYPE factory_twin_twin_rejected_total counter"]
        lines += [f'factory_twin_twin_rejected_total{{reason="{_esc(r)}"}} {n}'
                  for r, n in sorted(feed.rejected_counts.items())]
        lines += ["# TYPE factory_twin_twin_broker_connected gauge",
                  f"factory_twin_twin_broker_connected {int(feed.connected)}",
                  "# TYPE factory_twin_twin_broker_reconnects_total counter",
                  f"factory_twin_twin_broker_reconnects_total {max(0, feed.connects - 1)}",
                  "# HELP factory_twin_twin_ingest_latency_seconds source timestamp of a sample to the twin's state",
                  "# TYPE factory_twin_twin_ingest_latency_seconds histogram",
                  *feed.latency.exposition("factory_twin_twin_ingest_latency_seconds")]
        lines += ["# TYPE factory_twin_twin_feed_silent gauge", f"factory_twin_twin_feed_silent {int(feed.silent)}",
                  "# TYPE factory_twin_twin_feed_silence_restarts_total counter",
                  f"factory_twin_twin_feed_silence_restarts_total {feed.silence_restarts}"]
        watch = services.loop_watch
        if watch is not None:
            lines += ["# HELP factory_twin_twin_event_loop_stall_seconds how late the event loop ran a 50 ms timer",
                      "# TYPE factory_twin_twin_event_loop_stall_seconds histogram",
                      *watch.stalls.exposition("factory_twin_twin_event_loop_stall_seconds"),
                      "# TYPE factory_twin_twin_event_loop_stall_max_seconds gauge",
                      f'factory_twin_twin_event_loop_stall_max_seconds{{window="start"}} {watch.max_s}',
                      f'factory_twin_twin_event_loop_stall_max_seconds{{window="60s"}} {watch.recent_max_s()}',
                      f'factory_twin_twin_event_loop_stall_max_seconds{{window="10s"}} {watch.recent_max_s(10)}']
        lines += _alert_lines(services.alerts)
        lines += ["# TYPE factory_twin_twin_websocket_clients gauge",
                  f"factory_twin_twin_websocket_clients {self.websockets}",
                  "# HELP factory_twin_twin_http_request_duration_seconds HTTP requests by route template",
                  "# TYPE factory_twin_twin_http_request_duration_seconds histogram"]
        for (method, route, status), hist in sorted(self.requests.items()):
            labels = f'method="{method}",route="{_esc(route)}",status="{status}"'
            lines += hist.exposition("factory_twin_twin_http_request_duration_seconds", labels)
        return "\n".join(lines) + "\n"


def _alert_lines(alerts: Any) -> list[str]:
    """The alert engine's counts (`AlertEngine.metrics()`); nothing if there is no engine of that shape."""
    try:
        m = alerts.metrics()
        open_by, raised = m["open_by_severity"], sum(m["raised_total"].values())
    except (AttributeError, KeyError, TypeError, ValueError):
        return []
    lines = ["# TYPE factory_twin_twin_alerts_open gauge",
             *(f'factory_twin_twin_alerts_open{{severity="{s}"}} {open_by.get(s, 0)}'
               for s in ("info", "warning", "critical")),
             "# TYPE factory_twin_twin_alerts_raised_total counter",
             f"factory_twin_twin_alerts_raised_total {raised}",
             "# TYPE factory_twin_twin_alerts_state gauge",
             *(f'factory_twin_twin_alerts_state{{state="{_esc(st)}"}} {n}' for st, n in m["open"].items()),
             "# TYPE factory_twin_twin_alerts_flooding gauge",
             f"factory_twin_twin_alerts_flooding {int(m['flooding'])}",
             "# TYPE factory_twin_twin_alert_notifications_total counter"]
    for outcome in ("sent", "failed", "dropped"):
        lines += [f'factory_twin_twin_alert_notifications_total{{target="{_esc(t)}",outcome="{outcome}"}} {n}'
                  for t, n in sorted(m[f"notifications_{outcome}_total"].items())]
    lines += ["# TYPE factory_twin_twin_alert_notifications_suppressed_total counter",
              f"factory_twin_twin_alert_notifications_suppressed_total {m['notifications_suppressed_total']}"]
    return lines


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """Times each HTTP request by its route template (bounded label set) and counts open WebSockets."""

    def __init__(self, app: ASGIApp, metrics: TwinMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            self.metrics.websockets += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.metrics.websockets -= 1
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], route, status, time.perf_counter() - start)
