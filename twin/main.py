"""The twin service: a FastAPI app whose lifespan connects it to the unified namespace."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from plantmodel import mqtt
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from plantmodel.shifts import ShiftCalendarConfig
from twin.alerting import Clock, Notifier
from twin.api import alerts as api_alerts
from twin.api import assets, commands, health, jobs, me, ws
from twin.api import clock as api_clock
from twin.api import decisions as api_decisions
from twin.api import history as api_history
from twin.api import metrics as api_metrics
from twin.api import performance as api_performance
from twin.api.live import asset_live
from twin.app_state import TwinServices
from twin.auth import Authenticator, AuthError, require
from twin.backfill import Backfill
from twin.commands import CommandBook
from twin.config import BackfillConfig, TwinConfig
from twin.db import TwinDatabase
from twin.decisions import DecisionBook, DecisionEngine
from twin.equipment import Equipment
from twin.guard import BodyLimit, SecurityHeaders
from twin.history import HistoryReader
from twin.history_work import HeavyReads
from twin.jobs import JobRunner, JobStore
from twin.limits import CallerLimits
from twin.loopwatch import LoopWatch
from twin.metrics import MetricsMiddleware, TwinMetrics
from twin.peers import PeerRouting, feed_topics
from twin.performance import LinePerformance
from twin.persist import StateStore
from twin.plan_request import Planner
from twin.state import PlantTwin
from twin.stream import UnsFeed
from twin.stream_ws import LiveStream

WEB = Path(__file__).parent / "web"  # the browser UI (plain HTML, CSS and JS modules: no build step)
log = logging.getLogger(__name__)

def create_app(config: TwinConfig, plant: PlantConfig, calendar: ShiftCalendarConfig | None = None,
               env: Mapping[str, str] | None = None, *, planner: Planner | None = None,
               clock: Clock | None = None) -> FastAPI:
    """The service; `env` holds the secrets the auth config names (default: the process environment).

    `planner` runs what-if planning jobs (`planning.planner.plan_job`); without one, jobs are refused (503).
    `clock` is plant time for everything that compares with now (ages, running OEE, alert escalation, shelving,
    floods, the window for future timestamps); default: the configured plant clock. Tests give a hand-moved one.

    Raises `twin.auth.AuthError` when a secret is missing, before anything is opened.
    """
    env = os.environ if env is None else env
    auth = Authenticator(config.auth, env)
    feed_topics_ = feed_topics(config, plant)
    notifier = Notifier(config.alerts.notify, config.alerts.retry, config.alerts.queue, config.broker,
                        mqtt.unique_client_id(config.client_id), env)
    db = TwinDatabase(config.database)
    clock = clock or config.clock.clock()
    performance = LinePerformance(config, plant, calendar, _site_zone(plant), db, clock, notifier)
    twin = PlantTwin(plant, listeners=[performance.observe], clock=clock, max_future_s=config.max_future_s)
    live = LiveStream(twin, lambda path, now: asset_live(twin.assets[path], now, performance, performance.now_us()),
                      clock=clock)
    history = HistoryReader(config.history, env)
    lines = config.partition.lines if config.partition else [ln.path for ln in plant.lines()]
    backfill = Backfill(twin, performance.alerts, history, config.history.backfill if config.history
                        else BackfillConfig(), lines, clock=lambda: clock.now_us() / 1e6)
    store = StateStore(db, twin, clock=clock, max_future_s=config.max_future_s,
                       watermarks=lambda: backfill.seen.watermarks)
    twin.listeners += [live.observe, store.observe]
    feed = UnsFeed(twin, config.broker, feed_topics_, config.client_id, silence_s=config.feed_silence_s, clock=clock)
    feed.gate, backfill.deliver = backfill, feed.ingest_held
    backfill.connected = lambda: feed.connected
    loop_watch = LoopWatch()
    job_store = JobStore(db, config.jobs.keep)
    job_runner = JobRunner(job_store, planner, config.jobs.workers, max_wall_s=config.jobs.max_wall_s,
                           max_runs=config.jobs.max_runs)
    audit_key = None
    if config.audit_key_env:
        secret = env.get(config.audit_key_env)
        if not secret:
            raise AuthError(f"audit_key_env: environment variable {config.audit_key_env} is not set")
        audit_key = secret.encode()
    book = CommandBook(db, audit_key)
    equipment = Equipment(config.control, env) if config.control else None
    decisions = None
    if config.decisions is not None:
        sim_plant = load_config(config.decisions.plant, PlantConfig) if config.decisions.plant else plant
        decisions = DecisionEngine(config.decisions, plant, sim_plant, twin, performance.stops,
                                   (job_store, job_runner), DecisionBook(db), book, config.control,
                                   config.jobs.limits(), clock=lambda: clock.now_us() / 1e6)
        performance.alerts.listeners.append(decisions.on_alert)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.load()
        backfill.seen.watermarks.update(store.load_watermarks())
        await notifier.start()
        ticking = asyncio.create_task(_tick(performance, config.alerts.tick_s), name="alert-tick")
        backfill.start()  # holds the feed's messages until the gap since the last run is read
        filling = asyncio.create_task(backfill.run(), name="backfill")
        feed.start(asyncio.get_running_loop())
        await backfill.rebuilt.wait()  # today's OEE and stops are whole before the API answers
        store.restore_reasons(performance.stops)
        # a peer forwards history requests with a short timeout: have the read workers ready for the first one
        peers = config.partition is not None and config.partition.peers
        warming = asyncio.create_task(heavy.warm(), name="history workers") if config.history and peers else None
        job_runner.start()
        book.interrupted(time.time())
        seq, head = book.audit_head()
        log.info("audit log head: entry %s, hash %s", seq, head)  # a copy in the logs anchors the chain
        stop = asyncio.Event()
        tasks = [asyncio.create_task(live.run(stop), name="live stream"),
                 asyncio.create_task(store.run(stop), name="state store"),
                 asyncio.create_task(loop_watch.run(stop), name="loop watch")]
        if decisions is not None:
            tasks.append(asyncio.create_task(decisions.run(stop), name="decisions"))
        expiry = asyncio.create_task(_expire(book), name="command expiry")
        silence = asyncio.create_task(feed.watch_silence(), name="feed silence")
        try:
            yield
        finally:
            expiry.cancel()
            silence.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await silence
            stop.set()
            await asyncio.gather(*tasks)
            await job_runner.stop()
            feed.stop()
            for task in (filling, warming):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking
            await notifier.stop()
            store.flush()
            await asyncio.to_thread(heavy.close)
            history.close()
            db.close()

    app = FastAPI(title="factory-twin", summary="Live digital twin of a production line", lifespan=lifespan)
    heavy = HeavyReads(config.rate_limits.concurrent_reads)
    services = TwinServices(
        config=config, plant=plant, clock=clock, auth=auth, db=db, twin=twin, feed=feed, performance=performance,
        live=live, store=store, history=history, backfill=backfill, loop_watch=loop_watch,
        heavy_reads=asyncio.Semaphore(config.rate_limits.concurrent_reads), heavy=heavy,
        limits=CallerLimits(config.rate_limits.expensive), job_store=job_store, job_runner=job_runner,
        commands=book, equipment=equipment, decisions=decisions, metrics=TwinMetrics())
    app.state.services = services  # the routes read it through twin.api.deps; scripts through services_of(app)
    performance.alerts.listeners.append(live.alert)  # the WebSocket pushes every alert change
    if config.auth.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.auth.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])
    viewer = [Depends(require("viewer"))]  # every route needs a caller; writes ask for more in their handlers
    # history first: its /api/assets/{path}/... routes must match before the catch-all /api/assets/{path}
    for router in (api_history.router, assets.router, api_performance.router, api_alerts.router, health.router,
                   me.router, jobs.router, commands.router, api_decisions.router, api_metrics.router,
                   api_clock.router):
        app.include_router(router, dependencies=viewer)
    app.include_router(ws.router)  # authenticates in the handler: a WebSocket has no Request to depend on
    if config.partition is not None and config.partition.peers:
        app.add_middleware(PeerRouting, partition=config.partition)
    # before routing, authentication or parsing (and before a peer is asked): an oversized body goes no further
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)  # times the peers' answers too
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, refusals included

    # the web UI: static files shipped in the package, mounted last so /api and /docs match first
    app.mount("/", StaticFiles(directory=WEB, html=True), name="web")
    return app

async def _tick(performance: LinePerformance, every_s: float) -> None:
    """Time passing for the alerts: shelves run out, escalations fall due, OEE targets are judged (every `every_s`
    of plant time)."""
    while True:
        await asyncio.sleep(performance.clock.wall_seconds(every_s))
        try:
            performance.alerts.tick()
        except Exception:  # the next tick tries again; the service stays up
            log.exception("alert tick failed")

async def _expire(book: CommandBook, every_s: float = 1.0) -> None:
    """Unapproved requests expire on time even when nobody asks for the list (which also expires them)."""
    while True:
        await asyncio.sleep(every_s)
        book.expire_due(time.time())

def _site_zone(plant: PlantConfig) -> tzinfo:
    """Days are the first site's local days when no shift calendar says otherwise."""
    return ZoneInfo(plant.sites[0].timezone)
