"""The InfluxDB historian: writes line protocol, reads with InfluxQL over the v1-compatible ``/query``.

Writes go through influxdb-client to ``/api/v2/write`` (InfluxDB 2.x and 3.x, and anything else that speaks
that API), or, with ``write_api="v1"``, straight to ``/write`` for InfluxDB 1.x. Reads use InfluxQL over
``/query``, which 1.x serves natively, 2.x through a DBRP mapping and 3.x as its v1 API. The layout is
historian/layout.py; retention is the server's (retention policies, or the bucket's retention period).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import httpx
import orjson

from historian.base import Rejection, Window, WriteReport
from historian.checks import Gate, Refusal, micros
from historian.layout import EVENTS, event_line, sample_line
from plantmodel.telemetry import EPOCH, Event, EventKind, Quality, Record, Sample

LINES_PER_REQUEST = 5000  # InfluxData's recommended batch size
_QUALITY = {str(q): q for q in Quality}


class LineWriter(Protocol):
    def write(self, lines: list[str]) -> None: ...

    def close(self) -> None: ...


class ClientWriter:
    """influxdb-client's write service: ``POST /api/v2/write`` at nanosecond precision, gzipped at level 1.

    The client's own gzip is level 9, which cost the agent a sixth of its CPU at 30,000 samples/s for a body
    about 10 % smaller than level 1 makes; so the body is compressed here and sent with its Content-Encoding.
    """

    def __init__(self, url: str, bucket: str, org: str = "", token: str = "", timeout_s: float = 10.0) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.service.write_service import WriteService

        self.bucket, self.org = bucket, org
        # synchronous: the caller's spool owns durability (the client's own batching can drop data silently);
        # the client's own retries are off for the same reason: a failed batch raises, and is retried whole
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000), retries=False)
        self._service = WriteService(self._client.api_client)

    def write(self, lines: list[str]) -> None:
        from influxdb_client.rest import ApiException

        body = gzip.compress("\n".join(lines).encode(), compresslevel=1)
        try:
            self._service.post_write(org=self.org, bucket=self.bucket, body=body, precision="ns",
                                     content_encoding="gzip", content_type="text/plain; charset=utf-8")
        except ApiException as exc:
            headers: Any = exc.headers or {}
            raise InfluxError(f"write refused ({exc.status}): {str(exc.body or exc.reason)[:300]}", exc.status,
                              _retry_after(headers.get("Retry-After"))) from None

    def close(self) -> None:
        self._client.close()


class V1Writer:
    """``POST /write?db=..`` of InfluxDB 1.x, for servers without the v2 API (Debian's 1.6)."""

    def __init__(self, http: httpx.Client, database: str, retention_policy: str | None = None) -> None:
        self._http = http
        self._params = {"db": database, "precision": "ns"} | ({"rp": retention_policy} if retention_policy else {})

    def write(self, lines: list[str]) -> None:
        body = gzip.compress("\n".join(lines).encode(), compresslevel=1)
        response = self._http.post("/write", params=self._params, content=body,
                                   headers={"Content-Encoding": "gzip"})
        if response.status_code != 204:
            raise InfluxError(f"write refused ({response.status_code}): {response.text[:300]}", response.status_code,
                              _retry_after(response.headers.get("Retry-After")))

    def close(self) -> None:
        pass


class _NoWriter:
    def write(self, lines: list[str]) -> None:
        raise InfluxError("this InfluxDB historian was opened read-only")

    def close(self) -> None:
        pass


class InfluxError(RuntimeError):
    """`status` is the HTTP status (None for a network error); `retry_after_s` what the server asked for."""

    def __init__(self, message: str, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after_s = status, retry_after_s

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare for InfluxDB and read as absent)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class InfluxHistorian:
    """One database (1.x), or one bucket mapped to a database and retention policy (2.x DBRP).

    `readonly`: a reader (the twin's), which opens no write client and refuses writes."""

    def __init__(self, url: str, database: str, *, retention_policy: str | None = None,
                 write_api: Literal["v1", "v2"] = "v2", bucket: str | None = None, org: str = "",
                 token: str | None = None, timeout_s: float = 10.0, max_future_s: float = 3600.0,
                 clock: Callable[[], float] = time.time, readonly: bool = False) -> None:
        self.database, self.retention_policy = database, retention_policy
        self.gate = Gate(max_future_s, clock)
        headers = {"Authorization": f"Token {token}"} if token else {}
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout_s)
        self._fields: dict[str, tuple[float, dict[str, set[str]]]] = {}  # FROM clause -> (read at, fields by name)
        self.writer: LineWriter = (
            _NoWriter() if readonly else ClientWriter(url, bucket or database, org, token or "", timeout_s)
            if write_api == "v2" else V1Writer(self._http, database, retention_policy))

    def close(self) -> None:
        self.writer.close()
        self._http.close()

    def write(self, records: Sequence[Record]) -> WriteReport:
        lines: list[str] = []
        rejected: list[Rejection] = []
        for r in records:
            if isinstance(r, Sample):
                checked = self.gate.sample(r)
                if isinstance(checked, Refusal):
                    rejected.append(checked.of(r))
                    continue
                kind, value, us = checked
                lines.append(sample_line(r.asset, r.signal, r.unit, str(kind), value, str(r.quality), us))
            elif isinstance(r, Event):
                event = self.gate.event(r)
                if isinstance(event, Refusal):
                    rejected.append(event.of(r))
                    continue
                asset, us, event_kind, data = event
                lines.append(event_line(asset, event_kind, data, us))
            else:
                rejected.append(Rejection(r, "wrong_type", "record", f"not a Sample or Event: {type(r).__name__}"))
        for i in range(0, len(lines), LINES_PER_REQUEST):
            self.writer.write(lines[i:i + LINES_PER_REQUEST])
        return WriteReport(len(lines), rejected)

    # -- reading ---------------------------------------------------------------------------------------

    def query(self, *statements: str) -> list[dict[str, Any]]:
        """The results of InfluxQL statements, one per statement; raises on any error in them."""
        params = {"db": self.database, "q": ";".join(statements), "epoch": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        response = self._http.get("/query", params=params)
        body = orjson.loads(response.content) if response.content else {}
        if response.status_code != 200 or "error" in body:
            raise InfluxError(f"query failed ({response.status_code}): {body.get('error', response.text[:300])}")
        results = body.get("results", [])
        for result in results:
            if "error" in result:
                raise InfluxError(f"query failed: {result['error']}")
            if result.get("partial"):
                raise InfluxError("query result truncated by the server (max-row-limit); ask for a shorter range")
        return results

    def samples(self, asset: str = "*", signal: str = "*", start: datetime | None = None,
                end: datetime | None = None) -> list[Sample]:
        (result,) = self.query(f'SELECT "value", "text", "quality" FROM {_measurements(signal)} WHERE '
                               f'{_where(asset, start, end)} GROUP BY "path", "unit"')
        return self._samples(result)

    @staticmethod
    def _samples(result: dict[str, Any], newest_first: bool = False) -> list[Sample]:
        out: list[tuple[str, str, list[Sample]]] = []
        for series in _series(result):  # the hot loop of a large read: no enum call, no helper per row
            path, unit, name = series["tags"]["path"], series["tags"].get("unit", ""), series["name"]
            rows = reversed(series["values"]) if newest_first else series["values"]
            out.append((path, name, [
                Sample(path, name, float(value) if text is None else text, unit,
                       EPOCH + timedelta(microseconds=ns // 1000), _QUALITY[q])
                for ns, value, text, q in rows]))
        return [s for _, _, group in sorted(out, key=lambda g: (g[0], g[1])) for s in group]

    def tail(self, asset: str, signal: str, start: datetime | None, end: datetime | None, limit: int
             ) -> list[Sample]:
        """Like `samples`, but only the newest `limit` of each series (read newest first, so a long range costs
        no more than its end)."""
        (result,) = self.query(f'SELECT "value", "text", "quality" FROM {_measurements(signal)} WHERE '
                               f'{_where(asset, start, end)} GROUP BY "path", "unit" ORDER BY time DESC '
                               f"LIMIT {int(limit)}")
        return self._samples(result, newest_first=True)

    def windows(self, asset: str, signal: str, start: datetime, end: datetime, every_s: int) -> list[Window]:
        """Numbers are aggregated without the quality filter, which costs InfluxDB a second field read per
        aggregate, and the few windows holding bad samples are then recomputed from their good ones."""
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        where = _where(asset, start, end)
        grouping = f'GROUP BY time({every_s}s), "path" fill(none)'
        fields = self._field_keys(signal)
        numeric = any("value" in f for f in fields.values())
        text = any("text" in f for f in fields.values())
        statements = []
        if numeric:
            statements += [f'SELECT count("value"), sum("value"), min("value"), max("value"), last("value") '
                           f"FROM {_measurements(signal)} WHERE {where} {grouping}",
                           f'SELECT "value" FROM {_measurements(signal)} WHERE {where} AND "quality" = \'bad\' '
                           f'GROUP BY "path"']
        if text:
            statements.append(f'SELECT count("text"), last("text") FROM {_measurements(signal)} WHERE {where} '
                              f"AND \"quality\" != 'bad' {grouping}")
        if not statements:
            return []
        results = self.query(*statements)
        every_us = every_s * 1_000_000
        first_w, last_w = micros(start) // every_us, (micros(end) - 1) // every_us
        grouped: dict[tuple[str, str], dict[int, Window]] = {}
        if numeric:
            for series in _series(results[0]):
                by_w = grouped.setdefault((series["tags"]["path"], series["name"]), {})
                for ns, n, total, low, high, last in series["values"]:
                    by_w[ns // 1000 // every_us] = Window(series["tags"]["path"], series["name"], _ts(ns), n,
                                                          total / n, float(low), float(high), float(last))
            self._without_bad(results[1], grouped, every_us, start, end)
        if text:
            for series in _series(results[-1]):
                by_w = grouped.setdefault((series["tags"]["path"], series["name"]), {})
                for ns, n, last in series["values"]:
                    by_w[ns // 1000 // every_us] = Window(series["tags"]["path"], series["name"], _ts(ns), n,
                                                          last=last)
        out: list[Window] = []
        for (path, signal_name), by_w in sorted(grouped.items()):
            if by_w:
                out.extend(by_w.get(w) or Window(path, signal_name, _ts(w * every_us * 1000), 0)
                           for w in range(first_w, last_w + 1))
        return out

    def _without_bad(self, bad: dict[str, Any], grouped: dict[tuple[str, str], dict[int, Window]], every_us: int,
                     start: datetime, end: datetime) -> None:
        """Recompute the windows that hold bad samples from their good samples alone (gone if none is left)."""
        touched = sorted({(s["name"], s["tags"]["path"], ns // 1000 // every_us) for s in _series(bad)
                          for ns, _ in s["values"]})
        if not touched:
            return
        lo_us, hi_us = micros(start), micros(end)
        statements = [f'SELECT "value" FROM {_measurements(name)} WHERE {_where(path, None, None)} '
                      f"AND time >= {max(lo_us, w * every_us) * 1000} "
                      f"AND time < {min(hi_us, (w + 1) * every_us) * 1000} AND \"quality\" != 'bad'"
                      for name, path, w in touched]
        results = [r for i in range(0, len(statements), 100) for r in self.query(*statements[i:i + 100])]
        for (name, path, w), result in zip(touched, results, strict=True):
            values = [float(v) for s in _series(result) for _, v in s["values"]]
            by_w = grouped.get((path, name), {})
            if not values:
                by_w.pop(w, None)
                continue
            by_w[w] = Window(path, name, _ts(w * every_us * 1000), len(values), sum(values) / len(values),
                             min(values), max(values), values[-1])

    def _field_keys(self, signal: str, ttl_s: float = 300.0) -> dict[str, set[str]]:
        """The fields (value, text) of each measurement the signal pattern names, kept a while: a numeric
        measurement then costs no query for text, and a text one none for numbers. Servers that cannot say
        (an InfluxQL subset) get both queries."""
        source = _measurements(signal)
        now = time.monotonic()
        cached = self._fields.get(source)
        if cached is not None and now - cached[0] < ttl_s:
            return cached[1]
        try:
            (result,) = self.query(f"SHOW FIELD KEYS FROM {source}")
            fields = {s["name"]: {row[0] for row in s["values"]} for s in _series(result)}
        except InfluxError:
            return {signal: {"value", "text"}}
        if fields:  # nothing yet: ask again next time, the first sample may be on its way
            self._fields[source] = (now, fields)
        return fields

    def latest(self, asset: str = "*", signal: str = "*", at: datetime | None = None) -> list[Sample]:
        until = None if at is None else at + timedelta(microseconds=1)  # _where's end is exclusive
        (result,) = self.query(f'SELECT "value", "text", "quality" FROM {_measurements(signal)} WHERE '
                               f'{_where(asset, None, until)} GROUP BY "path", "unit" ORDER BY time DESC LIMIT 1')
        out = [Sample(s["tags"]["path"], s["name"], float(value) if text is None else text, s["tags"].get("unit", ""),
                      _ts(ns), _QUALITY[q]) for s in _series(result) for ns, value, text, q in s["values"][:1]]
        return sorted(out, key=lambda s: (s.asset, s.signal))

    def events(self, asset: str = "*", kind: EventKind | None = None, start: datetime | None = None,
               end: datetime | None = None) -> list[Event]:
        where = _where(asset, start, end) + (f" AND \"kind\" = '{kind}'" if kind else "")
        (result,) = self.query(f'SELECT "data" FROM "{EVENTS}" WHERE {where} GROUP BY "path", "kind"')
        rows = sorted((ns // 1000, s["tags"]["path"], s["tags"]["kind"], data)
                      for s in result.get("series", []) for ns, data in s["values"])
        return [Event(path, EventKind(kind), _ts(us * 1000), orjson.loads(data)) for us, path, kind, data in rows]

    def count_samples(self) -> int:
        (result,) = self.query('SELECT count("quality") FROM /.*/')
        return sum(row[1] for s in _series(result) for row in s["values"])


# JSON has no float type: InfluxDB sends 30.0 as 30, so numbers are made floats again on the way in.


def _series(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in result.get("series", []) if s["name"] != EVENTS]


def _ts(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // 1000)


def glob_regex(pattern: str) -> str:
    """An InfluxQL regex literal for our glob: ``*`` any run of characters, ``?`` one; the rest literal.

    >>> glob_regex("acme/*/cnc-?")
    '/^acme\\\\/.*\\\\/cnc\\\\-.$/'
    """
    body = "".join(".*" if c == "*" else "." if c == "?" else c if c.isalnum() or c == "_" else "\\" + c
                   for c in pattern)
    return f"/^{body}$/"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _measurements(signal: str) -> str:
    if "*" in signal or "?" in signal:
        return glob_regex(signal)
    return '"' + signal.replace('"', '\\"') + '"'


def _where(asset: str, start: datetime | None, end: datetime | None) -> str:
    clauses = [f'"path" =~ {glob_regex(asset)}' if "*" in asset or "?" in asset else f'"path" = {_literal(asset)}']
    if start is not None:
        clauses.append(f"time >= {micros(start) * 1000}")
    if end is not None:
        clauses.append(f"time < {micros(end) * 1000}")
    return " AND ".join(clauses)


__all__ = ["ClientWriter", "InfluxError", "InfluxHistorian", "LineWriter", "V1Writer"]
