"""The FastAPI application: Twilio-compatible `/v1` and the signed media route."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline import __version__
from pipeline.cluster.live_rooms import LiveRooms
from pipeline.cluster.node import ClusterNode
from pipeline.cluster.settings import ClusterSettings
from pipeline.config import Settings
from pipeline.db import Database
from pipeline.jobs.dispatch import DatabasePolling, Dispatcher
from pipeline.metrics import api_registry, live_registry, watch_event_loop
from pipeline.recording.recorder import Recorder
from pipeline.recording.restart import recover_after_restart
from pipeline.sfu import Sfu, SfuSettings
from pipeline.signing_key import deployment_fingerprint, deployment_storage

from . import (
    aws_credentials,
    compositions,
    dashboard,
    hooks,
    keys,
    media,
    metrics,
    openapi,
    pages,
    participants,
    recordings,
    rooms,
    settings,
    signal,
    twilio_signaling,
)
from .auth_throttle import AuthThrottle, counts_for
from .browser_policy import BrowserPolicy
from .context import Services
from .errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    unexpected_error_handler,
    validation_error_handler,
)


def create_app(
    config: Settings | None = None,
    db: Database | None = None,
    public_url: str | None = None,
    dispatcher: Dispatcher | None = None,
    sfu_settings: SfuSettings | None = None,
    cluster_settings: ClusterSettings | None = None,
) -> FastAPI:
    config = config or Settings.from_env()
    db = db or Database(config.database_url)
    storage = deployment_storage(config, db, public_url)
    app = FastAPI(
        title="roomreel",
        version=__version__,
        description="Twilio Video compatible recordings and compositions, self-hosted.",
    )
    app.state.services = Services(config, db, storage)
    app.state.public_url = public_url
    app.state.auth_throttle = AuthThrottle(counts_for(config.broker_url))
    app.state.dispatcher = dispatcher or DatabasePolling()
    app.state.sfu = Sfu(db, sfu_settings or SfuSettings.from_env(), dispatch=app.state.dispatcher.composition)
    app.state.recorder = Recorder(db, storage, config.data_dir / "spool" / "recordings")
    if config.recorder == "inprocess":
        app.state.sfu.room_openers.append(app.state.recorder.attach)
    app.state.cluster = (
        ClusterNode(cluster_settings, app.state.sfu, db, deployment_fingerprint(db)[:16])
        if cluster_settings is not None
        else None
    )
    app.state.live_rooms = LiveRooms(app.state.sfu, app.state.cluster)

    async def recover() -> None:
        if app.state.cluster is not None:  # joined before recovery, which claims rooms
            await app.state.cluster.start()
        await recover_after_restart(app)

    app.router.on_startup.append(recover)

    async def watch_loop() -> None:
        app.state.loop_watch = asyncio.ensure_future(watch_event_loop())

    async def stop_watching() -> None:
        app.state.loop_watch.cancel()

    app.router.on_startup.append(watch_loop)
    app.router.on_shutdown.append(stop_watching)
    app.state.dev_tokens = config.dev_tokens
    app.router.on_shutdown.append(app.state.sfu.close)
    if app.state.cluster is not None:
        app.router.on_shutdown.append(app.state.cluster.stop)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
    app.state.metrics = api_registry(db)
    app.state.live_metrics = live_registry(app.state.sfu.counts, app.state.cluster)
    for module in (
        rooms,
        participants,
        recordings,
        compositions,
        hooks,
        keys,
        aws_credentials,
        settings,
        media,
        signal,
        twilio_signaling,
        pages,
        dashboard,
        metrics,
    ):
        app.include_router(module.router)
    openapi.install_security(app)
    app.add_middleware(BrowserPolicy, public_url=public_url or config.public_url)
    return app
