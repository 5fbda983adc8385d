"""The `roomreel` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import layouts
from pipeline.compose.errors import ComposeError
from pipeline.config import ConfigError
from pipeline.media.manifest import ManifestError, load_manifest
from pipeline.storage import StorageError

log = logging.getLogger("roomreel")


class UserError(Exception):
    """Reported as one line on stderr with a non-zero exit, never as a traceback."""


def _load_plan(args: argparse.Namespace):
    manifest = load_manifest(args.sources)
    speech = None
    if args.layout and layouts.uses_active_speaker(
        layouts.load_layout(args.layout, layouts.parse_resolution(args.resolution))
    ):
        from pipeline.media.speech import speech_in_room_dir

        # Each audio recording's levels file beside its media, computed and left there if missing.
        speech = speech_in_room_dir(manifest.directory, manifest.data["recordings"])
    plan = layouts.plan_for_manifest(
        manifest.data,
        args.layout,
        args.resolution,
        args.audio_sources or [],
        args.audio_sources_excluded or [],
        trim=not args.no_trim,
        speech=speech,
    )
    return manifest, plan


def cmd_layout_plan(args: argparse.Namespace) -> int:
    _, plan = _load_plan(args)
    json.dump(plan.to_dict(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _writable(out: str) -> None:
    """An output path whose folder is missing is the user's to fix, said before any work."""
    folder = Path(out).expanduser().absolute().parent
    if not folder.is_dir():
        raise UserError(f"cannot write {out}: the folder {folder} does not exist")


def cmd_layout_preview(args: argparse.Namespace) -> int:
    from pipeline.compose.preview import draw_preview

    _writable(args.out)
    manifest, plan = _load_plan(args)
    if not 0 <= args.at <= plan.duration:
        raise UserError(
            f"--at {args.at:g} is outside the composition, which runs from 0 to {plan.duration:.2f} s"
        )
    names = {sid: rec.track_name or sid for sid, rec in manifest.recordings.items()}
    print(draw_preview(plan, args.at, args.out, names))
    return 0


def cmd_layout_presets(args: argparse.Namespace) -> int:
    from layouts.presets import describe

    for name in layouts.preset_names():
        print(f"{name:14} {describe(name)}")
    return 0


def cmd_compose(args: argparse.Namespace) -> int:
    from pipeline.compose import render

    args.sources = args.room_dir
    _writable(args.out)
    manifest, plan = _load_plan(args)
    fmt = args.format or (
        Path(args.out).suffix.lstrip(".") if Path(args.out).suffix in (".mp4", ".webm") else "mp4"
    )
    if args.quiet or not sys.stderr.isatty():
        report = render(manifest, plan, args.out, fmt, args.fps, None, args.skip_broken)
    else:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
        ) as bar:
            task = bar.add_task("composing", total=plan.duration or 1)
            report = render(
                manifest,
                plan,
                args.out,
                fmt,
                args.fps,
                lambda done, total: bar.update(task, completed=done),
                args.skip_broken,
            )
    for sid, reason in report.skipped.items():
        print(f"warning: recording {sid} left out: {reason}", file=sys.stderr)
    print(
        f"{report.path} {report.duration:.2f}s in {report.elapsed:.2f}s "
        f"({report.realtime_factor:.1f}x realtime)",
        file=sys.stderr,
    )
    print(report.path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.demo import DemoError, run

    try:
        print(run())
    except DemoError as exc:
        raise UserError(f"demo failed: {exc}") from None
    return 0


def _database():
    from pipeline.config import Settings
    from pipeline.db import Database

    settings = Settings.from_env()
    db = Database(settings.database_url)
    db.upgrade()
    return settings, db


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings, _ = _database()
    print(f"database at {settings.database_url.split('@')[-1]} is up to date")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from pipeline.accounts import create_api_key, ensure_account

    settings, db = _database()
    account, _ = ensure_account(db, settings)
    key = create_api_key(db, account.sid, args.friendly_name or "")
    print(json.dumps({"sid": key.sid, "secret": key.secret, "account_sid": account.sid}))
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from pipeline.accounts import ensure_account
    from pipeline.db.models import ApiKey

    settings, db = _database()
    account, _ = ensure_account(db, settings)
    with db.session() as session:
        keys = session.scalars(
            select(ApiKey).where(ApiKey.account_sid == account.sid).order_by(ApiKey.date_created)
        ).all()
        for key in keys:
            print(json.dumps({"sid": key.sid, "friendly_name": key.friendly_name,
                              "date_created": key.date_created.isoformat()}))  # fmt: skip
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    """Where the state is and how to reach it: what `roomreel serve` printed at start."""
    from pipeline.accounts import ensure_account
    from pipeline.db.models import ApiKey

    settings, db = _database()
    account, _ = ensure_account(db, settings)
    token = "(from ROOMREEL_AUTH_TOKEN)" if settings.auth_token else account.auth_token
    if args.env:
        import shlex

        print(
            f"export ACCOUNT_SID={account.sid} AUTH_TOKEN={shlex.quote(settings.auth_token or account.auth_token)}"
        )
        return 0
    with db.session() as session:
        count = session.query(ApiKey).filter(ApiKey.account_sid == account.sid).count()
    print(f"data directory  {settings.data_dir}")
    print(f"account SID     {account.sid}")
    print(f"auth token      {token}")
    print(f"API keys        {count} (`roomreel keys list`, `roomreel keys create`)")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from pipeline.db.models import ApiKey

    _, db = _database()
    with db.session() as session:
        key = session.get(ApiKey, args.sid)
        if key is None:
            raise UserError(f"no API key {args.sid}")
        session.delete(key)
    print(f"revoked {args.sid}: its tokens and REST access stop now")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from pipeline.accounts import ensure_account
    from pipeline.importer import import_room
    from pipeline.signing_key import deployment_storage

    settings, db = _database()
    account, _ = ensure_account(db, settings)
    storage = deployment_storage(settings, db)
    print(import_room(db, storage, account.sid, args.room_dir))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pipeline.accounts import ensure_account
    from pipeline.api.app import create_app
    from pipeline.config import Settings
    from pipeline.serve_claim import ClaimError, DataDirClaim, listening_socket

    settings = Settings.from_env()
    public = settings.public_url if "ROOMREEL_PUBLIC_URL" in os.environ else f"http://{args.host}:{args.port}"
    # Claim the data directory and the port before anything is read or recovered: a second
    # server must fail here, not after it has ended the first one's live rooms.
    try:
        claim = DataDirClaim(settings.data_dir).acquire(f"{args.host}:{args.port}")
        sock = listening_socket(args.host, args.port)
    except ClaimError as exc:
        raise UserError(str(exc)) from None
    settings, db = _database()
    account, created = ensure_account(db, settings)
    log.info("data directory %s", settings.data_dir)
    if settings.auth_token is None:  # never log a token the operator supplied
        log.warning("%s account %s, auth token %s (`roomreel keys` shows them again)",
                    "created" if created else "using", account.sid, account.auth_token)  # fmt: skip
    else:
        log.info("%s account %s (auth token from ROOMREEL_AUTH_TOKEN)",
                 "created" if created else "using", account.sid)  # fmt: skip
    from pipeline.embedded import EmbeddedWorkers

    dispatcher = None
    if settings.broker_url != "memory":
        from workers.broker import broker_error
        from workers.dispatch import DramatiqDispatcher

        dispatcher = DramatiqDispatcher(db)
        if error := broker_error(settings.broker_url):
            log.warning(
                "broker %s unreachable (%s): new compositions wait in the database until it is back",
                settings.broker_url.split("@")[-1],
                error,
            )
    from pipeline.cluster.settings import ClusterSettings

    cluster = ClusterSettings.from_env(
        settings.data_dir, settings.broker_url, _node_url(args.host, args.port)
    )
    app = create_app(settings, db, public_url=public, dispatcher=dispatcher, cluster_settings=cluster)
    workers = (
        EmbeddedWorkers(
            db,
            app.state.services.storage,
            spool_dir=settings.data_dir / "spool",
            node_id=cluster.node_id if cluster else None,
        ).start()
        if settings.broker_url == "memory"
        else None
    )
    try:
        log.info("serving on %s (broker %s); dashboard at %s/dashboard", public,
                 settings.broker_url.split("@")[-1], public)  # fmt: skip
        from pipeline.cluster.drain import DrainingServer

        config = uvicorn.Config(app, log_level="warning", log_config=None)
        server = DrainingServer(config, app) if cluster is not None else uvicorn.Server(config)
        server.run(sockets=[sock])
    finally:
        if workers:
            workers.stop()
        sock.close()
        claim.release()
    return 0


def _node_url(host: str, port: int) -> str:
    """Where the other nodes of a cluster reach this one when ROOMREEL_NODE_URL does not say."""
    import socket

    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


MAX_TOKEN_LIFETIME = 86400


def _dev_token(identity: str, room: str | None, ttl: int) -> str:
    from pipeline.accounts import ensure_account
    from pipeline.api.signal import dev_key
    from pipeline.sfu.access_token import mint

    settings, db = _database()
    account, _ = ensure_account(db, settings)
    key = dev_key(db, account.sid)
    return mint(account.sid, key.sid, key.secret, identity, room, min(ttl, MAX_TOKEN_LIFETIME))


def cmd_recorder(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from pipeline.accounts import ensure_account
    from pipeline.api.signal import dev_key
    from pipeline.client import RoomClientError
    from pipeline.recording.remote_recorder import RemoteRecorder
    from pipeline.sfu.access_token import mint
    from pipeline.signing_key import deployment_storage

    settings, db = _database()
    account, _ = ensure_account(db, settings)
    key = dev_key(db, account.sid)
    token = mint(account.sid, key.sid, key.secret, "roomreel-recorder", args.room, 86400, recorder=True)
    storage = deployment_storage(settings, db)
    recorder = RemoteRecorder(args.url, token, db, storage, settings.data_dir / "spool" / "recordings")
    # What a recorder of this host left when it died (its journals are here and nobody writes them).
    for sid, outcome in sorted(recorder.recorder.recover(journals_only=True).items()):
        log.warning("recovered recording %s left by a previous recorder: %s", sid, outcome)

    async def run() -> dict[str, str]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await recorder.run(stop)

    try:
        finished = asyncio.run(run())
    except RoomClientError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot reach {args.url}: {exc}") from None
    for sid, outcome in sorted(finished.items()):
        print(f"{sid} {outcome}")
    return 0 if all(o == "completed" for o in finished.values()) else 1


def cmd_token(args: argparse.Namespace) -> int:
    if not 1 <= args.ttl <= MAX_TOKEN_LIFETIME:
        raise UserError(
            f"--ttl must be between 1 and {MAX_TOKEN_LIFETIME} seconds (24 hours, as Twilio allows)"
        )
    print(_dev_token(args.identity, args.room, args.ttl))
    return 0


def cmd_bot(args: argparse.Namespace) -> int:
    import asyncio

    from pipeline.client.bot import BotOptions, run_bot

    colour = tuple(int(args.colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    token = args.token or _dev_token(args.identity, args.room, 3600 + int(args.duration))
    options = BotOptions(
        url=args.url,
        token=token,
        room=args.room,
        video=args.video,
        audio=args.audio,
        duration=args.duration,
        colour=colour,  # type: ignore[arg-type]
        tone_hz=args.tone,
        announce=lambda line: print(line, file=sys.stderr, flush=True),
    )
    try:
        result = asyncio.run(run_bot(options))
    except OSError as exc:
        raise UserError(f"cannot reach {args.url}: {exc}") from None
    except Exception as exc:
        from pipeline.client import RoomClientError

        if isinstance(exc, RoomClientError | ValueError):
            raise UserError(str(exc)) from None
        raise
    json.dump({k: v for k, v in result.items() if k != "flashes"}, sys.stdout)
    sys.stdout.write("\n")
    return 0


def cmd_import_twilio(args: argparse.Namespace) -> int:
    from datetime import datetime

    from pipeline.accounts import ensure_account
    from pipeline.signing_key import deployment_storage
    from pipeline.twilio_import.copy import TwilioImport
    from pipeline.twilio_import.source import TWILIO_VIDEO, Credentials, SourceError, TwilioSource

    def when(text: str | None) -> datetime | None:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
        except ValueError:
            raise UserError(f"not an ISO-8601 time: {text!r}") from None

    try:
        credentials = Credentials.from_env()
        source = TwilioSource(credentials, args.api_url or TWILIO_VIDEO)
    except SourceError as exc:
        if not args.follow:
            raise UserError(str(exc)) from None
    settings, db = _database()
    if args.follow:
        return _follow_import(db, args.follow)
    account, _ = ensure_account(db, settings)
    storage = deployment_storage(settings, db)
    job = TwilioImport(
        source, db, storage, account.sid, args.concurrency, progress=lambda line: print(line, file=sys.stderr)
    )
    try:
        if args.queue:
            return _queue_import(args, settings, db, job, credentials, when(args.since), when(args.until))
        summary = job.run(when(args.since), when(args.until), args.room)
    except SourceError as exc:
        raise UserError(str(exc)) from None
    except Exception as exc:
        from twilio.base.exceptions import TwilioException

        if isinstance(exc, TwilioException):
            raise UserError(f"the source refused: {exc}") from None
        raise
    print(
        f"imported {summary.rooms} rooms ({summary.skipped} already there), {summary.recordings} recordings, "
        f"{summary.compositions} compositions, {summary.hooks} hooks, {summary.bytes / 1e6:.1f} MB"
    )
    for sid, why in summary.not_copied:
        print(f"not copied: {sid}: {why}")
    return 0


def _queue_import(args, settings, db, job, credentials, since, until) -> int:
    """`--queue`: one job per room for the workers, then follow them (unless `--detach`)."""
    from pipeline.twilio_import import queued
    from pipeline.twilio_import.source import TWILIO_VIDEO

    sid, count, there = queued.queue_import(
        job, credentials, args.api_url or TWILIO_VIDEO, since, until, args.room
    )
    print(
        f"queued import {sid}: {count} rooms for the workers ({there} already there); "
        f"follow it with `roomreel import-twilio --follow {sid}`",
        file=sys.stderr,
    )
    if settings.broker_url != "memory":
        from workers.actors import import_twilio_room

        for import_sid, room_sid in queued.rooms_to_send(db, import_sid=sid):
            import_twilio_room.send(import_sid, room_sid)
    if args.detach:
        print(sid)
        return 0
    return _follow_import(db, sid, hooks=job.summary.hooks)


def _follow_import(db, import_sid: str, hooks: int = 0) -> int:
    """Progress of a queued import from the database until its last room is done; Ctrl-C stops
    following, not the import."""
    import time

    from pipeline.twilio_import import queued

    shown, waited = "", time.monotonic()
    try:
        while True:
            found = queued.progress(db, import_sid)
            if found is None:
                raise UserError(f"no queued import {import_sid}")
            line = found.line()
            if line != shown:
                print(line, file=sys.stderr, flush=True)
                shown, waited = line, time.monotonic()
            if found.status == "completed":
                break
            if found.processing == 0 and time.monotonic() - waited > 15:
                print("no worker has taken a room yet: `roomreel serve` or `roomreel worker` runs them",
                      file=sys.stderr, flush=True)  # fmt: skip
                waited = time.monotonic()
            time.sleep(1)
    except KeyboardInterrupt:
        print(f"\nthe import goes on in the workers: `roomreel import-twilio --follow {import_sid}`",
              file=sys.stderr)  # fmt: skip
        return 130
    for line in queued.summary_lines(found, hooks):
        print(line)
    return 0


def cmd_reprocess(args: argparse.Namespace) -> int:
    from pipeline.accounts import ensure_account
    from pipeline.jobs.reprocess import ReprocessError
    from pipeline.reprocess_cli import run
    from pipeline.signing_key import deployment_storage

    settings, db = _database()
    account, _ = ensure_account(db, settings)
    storage = deployment_storage(settings, db)
    try:
        return run(args, settings, db, storage, account.sid)
    except ReprocessError as exc:
        raise UserError(str(exc)) from None


def cmd_status(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    from pipeline.config import Settings
    from pipeline.health import run_checks

    checks = run_checks(Settings.from_env())
    if args.json:
        print(json.dumps([asdict(c) for c in checks]))
    else:
        table = Table(title="roomreel status")
        for column in ("part", "", "detail"):
            table.add_column(column)
        for check in checks:
            table.add_row(check.part, "[green]ok[/]" if check.ok else "[red]FAIL[/]", check.detail)
        Console().print(table)
    return 0 if all(c.ok for c in checks) else 1


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.main import run

    _database()
    return run(
        args.processes,
        args.threads,
        args.reconcile_every,
        args.redispatch_after,
        args.stale_after,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
    )


def _add_plan_args(p: argparse.ArgumentParser, sources_flag: bool = True) -> None:
    p.add_argument("--layout", default=None, help="video_layout JSON, a JSON file or a preset name")
    if sources_flag:
        p.add_argument("--sources", required=True, help="ROOM_DIR/room.json")
    p.add_argument("--resolution", default=None, help="WxH (default 640x480)")
    p.add_argument("--audio-sources", action="append", help="track name pattern or SID; repeatable")
    p.add_argument("--audio-sources-excluded", action="append")
    p.add_argument("--no-trim", action="store_true", help="keep stretches with no media")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roomreel", description="Recording and composition for WebRTC rooms"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    layout = sub.add_parser("layout", help="plan and preview layouts").add_subparsers(
        dest="action", required=True
    )
    plan = layout.add_parser("plan", help="print the layout plan JSON")
    _add_plan_args(plan)
    plan.set_defaults(func=cmd_layout_plan)
    preview = layout.add_parser("preview", help="draw the plan at one instant")
    _add_plan_args(preview)
    preview.add_argument("--at", type=float, default=0.0, help="output time in seconds")
    preview.add_argument("--out", default="preview.png")
    preview.set_defaults(func=cmd_layout_preview)
    presets = layout.add_parser("presets", help="list layout presets")
    presets.set_defaults(func=cmd_layout_presets)

    compose = sub.add_parser("compose", help="compose a room's recordings into one file")
    compose.add_argument("room_dir")
    _add_plan_args(compose, sources_flag=False)
    compose.add_argument("--format", choices=["mp4", "webm"])
    compose.add_argument("--fps", type=int, default=30)
    compose.add_argument("--out", required=True)
    compose.add_argument(
        "--skip-broken", action="store_true", help="leave out broken recordings instead of failing"
    )
    compose.add_argument("--quiet", action="store_true")
    compose.set_defaults(func=cmd_compose)

    serve = sub.add_parser("serve", help="run the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run dramatiq workers and the reconciler on this host")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=1)
    worker.add_argument("--reconcile-every", type=float, default=5.0, help="seconds between reconciler runs")
    worker.add_argument(
        "--redispatch-after",
        type=float,
        default=120.0,
        help="re-send a job whose last message is older than this many seconds",
    )
    worker.add_argument(
        "--stale-after",
        type=float,
        default=60.0,
        help="seconds without a heartbeat before a job is taken from its worker",
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve this host's job metrics (Prometheus) on this port",
    )
    worker.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")
    worker.set_defaults(func=cmd_worker)

    status = sub.add_parser("status", help="health of the database, API, broker, workers, queue and storage")
    status.add_argument("--json", action="store_true", help="one JSON list instead of a table")
    status.set_defaults(func=cmd_status)

    reprocess = sub.add_parser("reprocess", help="compose many completed rooms again (resumable)")
    reprocess.add_argument("--room", action="append", help="room SID; repeatable")
    reprocess.add_argument("--since", help="rooms created at or after this ISO-8601 time")
    reprocess.add_argument("--until", help="rooms created before this ISO-8601 time")
    reprocess.add_argument("--all", action="store_true", help="every completed room")
    reprocess.add_argument("--hook", help="take the composition parameters from this hook (HK...)")
    _add_plan_args(reprocess, sources_flag=False)
    reprocess.add_argument("--format", choices=["mp4", "webm"], default="mp4")
    reprocess.add_argument("--force", action="store_true", help="compose again even where done already")
    reprocess.set_defaults(func=cmd_reprocess)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply the migrations").set_defaults(func=cmd_db_upgrade)

    keys_parser = sub.add_parser("keys", help="the account's credentials and API keys")
    keys_parser.add_argument(
        "--env", action="store_true", help="print `export ACCOUNT_SID=… AUTH_TOKEN=…` for a shell's eval"
    )
    keys_parser.set_defaults(func=cmd_keys_show)
    keys = keys_parser.add_subparsers(dest="action")
    create_key = keys.add_parser("create", help="make an API key (prints sid and secret)")
    create_key.add_argument("--friendly-name")
    create_key.set_defaults(func=cmd_keys_create)
    keys.add_parser("list", help="the account's API keys (never their secrets)").set_defaults(
        func=cmd_keys_list
    )
    revoke = keys.add_parser("revoke", help="delete an API key: its tokens and REST access stop at once")
    revoke.add_argument("sid")
    revoke.set_defaults(func=cmd_keys_revoke)

    importer = sub.add_parser(
        "import", help="import a room directory (room.json + media) as a completed room"
    )
    importer.add_argument("room_dir")
    importer.set_defaults(func=cmd_import)

    twilio = sub.add_parser(
        "import-twilio", help="copy a Twilio account's rooms, recordings, compositions and hooks (resumable)"
    )
    twilio.add_argument("--api-url", help="another Twilio-compatible API (a roomreel) instead of Twilio's")
    twilio.add_argument("--since", help="rooms created at or after this ISO-8601 time")
    twilio.add_argument("--until", help="rooms created before this ISO-8601 time")
    twilio.add_argument("--room", action="append", help="room SID; repeatable")
    twilio.add_argument(
        "--concurrency", type=int, default=4, help="downloads at once (per room job with --queue)"
    )
    twilio.add_argument(
        "--queue",
        action="store_true",
        help="one job per room for the workers (large imports), then follow them",
    )
    twilio.add_argument(
        "--detach", action="store_true", help="with --queue: print the import's SID and return"
    )
    twilio.add_argument("--follow", metavar="IMPORT_SID", help="follow a queued import until it is done")
    twilio.set_defaults(func=cmd_import_twilio)

    token = sub.add_parser("token", help="mint an access token for a room (with a local API key)")
    token.add_argument("--identity", required=True)
    token.add_argument("--room")
    token.add_argument("--ttl", type=int, default=3600)
    token.set_defaults(func=cmd_token)

    recorder = sub.add_parser(
        "recorder", help="record a room from a separate process (with ROOMREEL_RECORDER=external on serve)"
    )
    recorder.add_argument("--room", required=True, help="room name or RM SID")
    recorder.add_argument("--url", default="http://127.0.0.1:8080", help="the roomreel server")
    recorder.set_defaults(func=cmd_recorder)

    bot = sub.add_parser("bot", help="join a room as a synthetic participant")
    bot.add_argument(
        "--url",
        default=os.environ.get("ROOMREEL_PUBLIC_URL") or "http://127.0.0.1:8080",
        help="the roomreel server (default ROOMREEL_PUBLIC_URL, else http://127.0.0.1:8080)",
    )
    bot.add_argument("--room", required=True)
    bot.add_argument("--identity", required=True)
    bot.add_argument("--token", help="an access token (default: minted with a local API key)")
    bot.add_argument("--video", default="testsrc", help="testsrc, none, or a file with VP8/H.264")
    bot.add_argument("--audio", default="tone", help="tone, none, or a file with Opus")
    bot.add_argument("--duration", type=float, default=30.0)
    bot.add_argument("--colour", default="#dc2828", help="testsrc colour, #rrggbb")
    bot.add_argument("--tone", type=float, default=440.0, help="tone frequency in Hz")
    bot.set_defaults(func=cmd_bot)

    demo = sub.add_parser("demo", help="record and compose one room on the embedded defaults")
    demo.set_defaults(func=cmd_demo)
    return parser


# Long-running services log their work; one-shot commands only what went wrong.
SERVICES = {"serve", "worker", "recorder"}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline.logs import configure

    try:
        configure(default_level="INFO" if args.command in SERVICES else "WARNING")
    except ValueError as exc:
        print(f"roomreel: error: {exc}", file=sys.stderr)
        return 2
    try:
        if (
            getattr(args, "layout", None) is None
            and hasattr(args, "layout")
            and not getattr(args, "audio_sources", None)
            and not getattr(args, "hook", None)
        ):
            raise UserError("give --layout, --audio-sources or both")
        return args.func(args)
    except (layouts.LayoutError, ManifestError, ComposeError, StorageError, UserError, ConfigError) as exc:
        print(f"roomreel: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("roomreel: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        print(f"roomreel: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
