"""The `roadmap-bot` command.

Exit codes: 0 an answer, 1 the program could not run (configuration, catalog, database),
2 bad input (the helpful reply is still printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

from roadmap_bot import __version__
from roadmap_bot.config import ConfigError, Settings, load_settings
from roadmap_bot.learning.catalog import CatalogError, load_catalog
from roadmap_bot.logs import configure_logging
from roadmap_bot.store.database import StoreError
from roadmap_bot.store.problems import database_problem

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

log = logging.getLogger("roadmap_bot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roadmap-bot",
        description="A learning roadmap of open-source architecture reports, in your team chat.",
    )
    parser.add_argument("--version", action="version", version=f"roadmap-bot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    console = sub.add_parser("console", help="chat with the bot in this terminal")
    console.add_argument("--user", help="who you are (default: your login)")
    console.add_argument("--channel", help="the console channel you are in, e.g. 'study'")

    ask = sub.add_parser("ask", help="ask one /roadmap command and print the reply")
    ask.add_argument("--user", help="who asks (default: your login)")
    ask.add_argument("--channel", help="the console channel, e.g. 'study'")
    ask.add_argument(
        "--format",
        choices=["text", "json", "slack", "discord"],
        default="text",
        help=(
            "text for people, json for the platform-neutral reply, "
            "slack for Block Kit JSON, discord for the embed"
        ),
    )
    ask.add_argument("words", nargs="*", help="the command, e.g. 'project redis'")

    catalog = sub.add_parser("catalog", help="check or dump a catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    check = catalog_sub.add_parser("check", help="validate a catalog and list every problem")
    check.add_argument("dir", nargs="?", help="catalog folder (default: the configured one)")
    catalog_sub.add_parser("dump", help="print the loaded catalog as JSON")

    digest = sub.add_parser("digest", help="weekly study-group digests")
    digest_sub = digest.add_subparsers(dest="digest_command", metavar="ACTION", required=True)
    run_due = digest_sub.add_parser("run-due", help="deliver whatever is due, print a summary")
    run_due.add_argument(
        "--now", type=_instant, help="the instant to act at, ISO-8601 (default: now)"
    )
    preview = digest_sub.add_parser("preview", help="print a channel's next digest")
    preview.add_argument(
        "--channel", required=True, help="a channel id: 'study' (console) or 'slack:T1:C1'"
    )

    reports = sub.add_parser("reports", help="the architecture reports' outlines")
    reports_sub = reports.add_subparsers(dest="reports_command", metavar="ACTION", required=True)
    refresh = reports_sub.add_parser(
        "refresh", help="fetch every catalog project's report now and cache its outline"
    )
    refresh.add_argument(
        "--concurrency",
        type=_concurrency,
        default=8,
        help="reports fetched at the same time, 1-32 (default: 8)",
    )

    dashboard = sub.add_parser(
        "dashboard", help="print a study group's private page link (for operators)"
    )
    dashboard.add_argument(
        "--channel", required=True, help="a channel id: 'study' (console) or 'slack:T1:C1'"
    )
    dashboard.add_argument(
        "--reset", action="store_true", help="replace the link; the old one stops working"
    )

    db = sub.add_parser("db", help="the database's schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser(
        "upgrade", help="migrate the database to this version's schema (serve does it too)"
    )

    sub.add_parser("serve", help="run the configured adapters (console when none)")
    sub.add_parser("health", help="check that the catalog loads and the database opens")
    return parser


def _instant(text: str) -> datetime:
    """An ISO-8601 instant; one without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an ISO-8601 instant (e.g. 2026-11-30T08:00:00Z)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _concurrency(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 32:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number from 1 to 32")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"roadmap-bot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    # One-shot commands keep stderr quiet unless asked; a server logs what it does.
    quiet = args.command in (
        "ask",
        "console",
        "catalog",
        "health",
        "digest",
        "reports",
        "dashboard",
        "db",
    )
    configure_logging(settings.log_level, quiet=quiet, secrets=settings.secret_values())
    # Alembic narrates every plugin and step at INFO; the store logs one line per upgrade.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    handler = _COMMANDS[args.command]
    try:
        return asyncio.run(handler(args, settings))
    except (CatalogError, StoreError, ConfigError) as exc:
        problem = database_problem(exc)
        print(
            f"roadmap-bot: {problem.line(settings.db_display) if problem else exc}", file=sys.stderr
        )
        return EXIT_FAILED
    except Exception as exc:
        # A busy or corrupt database can surface from any query: say so, not a traceback.
        problem = database_problem(exc)
        if problem is None:
            raise
        print(f"roadmap-bot: {problem.line(settings.db_display)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # `roadmap-bot ... | head`: the reader left; stop quietly like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


# -- commands ------------------------------------------------------------------------------


async def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from roadmap_bot.adapters.console import console_asker, strip_slash
    from roadmap_bot.app import open_app
    from roadmap_bot.chat.render_text import render_text

    async with open_app(settings) as app:
        reply = await app.roadmap.ask(
            strip_slash(" ".join(args.words)), console_asker(args.user, args.channel)
        )
        grammar = app.roadmap.parse  # every registered word: a feature's lists page too
    if args.format == "json":
        print(reply.model_dump_json(indent=2))
    elif args.format == "slack":
        from roadmap_bot.adapters.slack.blocks import render_message

        print(json.dumps(render_message(reply), indent=2, ensure_ascii=False))
    elif args.format == "discord":
        from roadmap_bot.adapters.discord.embeds import render

        print(json.dumps(render(reply).payload(), indent=2, ensure_ascii=False))
    else:
        print(render_text(reply, grammar))
    return EXIT_OK if reply.ok else EXIT_BAD_INPUT


async def _console(args: argparse.Namespace, settings: Settings) -> int:
    from roadmap_bot.adapters.console import console_asker, run_console
    from roadmap_bot.app import open_app

    async with open_app(settings) as app:
        await run_console(app.roadmap, console_asker(args.user, args.channel))
    return EXIT_OK


async def _catalog(args: argparse.Namespace, settings: Settings) -> int:
    if args.catalog_command == "check":
        folder = args.dir or settings.catalog
        try:
            catalog = load_catalog(folder)
        except CatalogError as exc:
            print(f"{len(exc.problems)} problem(s) in {exc.directory}:")
            for problem in exc.problems:
                print(f"  - {problem}")
            return EXIT_FAILED
        counts = ", ".join(
            f"{sum(1 for p in catalog.projects if p.level is lv)} {lv.value}"
            for lv in sorted({p.level for p in catalog.projects if p.level}, key=lambda lv: lv.rank)
        )
        unlevelled = sum(1 for p in catalog.projects if p.level is None)
        print(
            f"catalog {catalog.source} is valid: {len(catalog.projects)} projects "
            f"({counts}, {unlevelled} in paths only), {len(catalog.paths)} paths, "
            f"{len(catalog.concepts)} concepts"
        )
        return EXIT_OK
    catalog = load_catalog(settings.catalog)
    print(json.dumps(dump_catalog(catalog), indent=2, ensure_ascii=False))
    return EXIT_OK


def dump_catalog(catalog: Any) -> dict[str, Any]:
    """The catalog as plain data: projects with their paths, paths with their steps."""
    return {
        "source": catalog.source,
        "projects": [
            {
                "slug": p.slug,
                "name": p.name,
                "level": p.level.value if p.level else None,
                "summary": p.summary,
                "concepts": list(p.concepts),
                "builds_on": list(p.builds_on),
                "paths": [{"path": s.path.slug, "step": s.step} for s in catalog.paths_of(p.slug)],
                "repository": p.repository,
                "language": p.language,
                "category": p.category,
                "report_url": p.report_url,
            }
            for p in catalog.projects
        ],
        "paths": [
            {
                "slug": p.slug,
                "title": p.title,
                "blurb": p.blurb,
                "steps": list(p.steps),
                "lines": list(p.lines),
            }
            for p in catalog.paths
        ],
        "concepts": dict(catalog.concepts),
    }


async def _digest(args: argparse.Namespace, settings: Settings) -> int:
    from roadmap_bot.app import open_app, platform_posters
    from roadmap_bot.chat.render_text import render_text
    from roadmap_bot.clock import FixedClock

    clock = FixedClock(args.now) if getattr(args, "now", None) else None
    async with open_app(settings, clock=clock) as app:
        if args.digest_command == "run-due":
            from roadmap_bot.pauses import settle_after_start

            async with platform_posters(app):
                # as serve does once started: a fan-out of thousands of digests otherwise
                # spends a fifth of its CPU walking start-up objects in full collections
                settle_after_start()
                summary = await app.deliverer.run_due()
            print(summary.line())
            for problem in summary.problems:
                print(f"  problem: {problem}")
            return EXIT_OK if not summary.failed else EXIT_FAILED
        channel = args.channel if ":" in args.channel else f"console:{args.channel.lstrip('#')}"
        sub = await app.deliverer.digests.subscription(channel)
        if sub is None:
            print(f"{channel} has no weekly digest. Subscribe it first, e.g.:")
            print(f"  roadmap-bot ask --channel {args.channel} subscribe observability-stack")
            return EXIT_BAD_INPUT
        digest = await app.deliverer.compose(sub)
        print(render_text(digest.message))
        if digest.discussion is not None:
            print()
            print(render_text(digest.discussion))
    return EXIT_OK


async def _dashboard(args: argparse.Namespace, settings: Settings) -> int:
    from roadmap_bot.app import open_app

    async with open_app(settings) as app:
        channel = args.channel if ":" in args.channel else f"console:{args.channel.lstrip('#')}"
        sub = await app.deliverer.digests.subscription(channel)
        if sub is None:
            print(
                f"roadmap-bot: {channel} has no weekly digest, so it has no study-group page. "
                f"Subscribe it first, e.g.: roadmap-bot ask --channel {args.channel} "
                "subscribe observability-stack",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        print(await app.group_view.links.url(channel, reset=args.reset))
    return EXIT_OK


async def _reports(args: argparse.Namespace, settings: Settings) -> int:
    from roadmap_bot.app import open_app
    from roadmap_bot.reports.progress import ProgressBar

    # The summary names every failure with its reason: don't also log each one.
    logging.getLogger("roadmap_bot.reports").setLevel(logging.ERROR)
    async with open_app(settings) as app:
        slugs = [p.slug for p in app.catalog.projects]
        progress = ProgressBar(len(slugs), sys.stderr)
        summary = await app.reports.refresh_all(
            slugs, concurrency=args.concurrency, progress=progress
        )
        progress.finish()
    print(f"{len(slugs)} reports: {summary.line()}")
    for problem in sorted(summary.problems):
        print(f"  failed: {problem}")
    return EXIT_OK if not summary.failed else EXIT_FAILED


async def _db(args: argparse.Namespace, settings: Settings) -> int:
    from roadmap_bot.store.database import Database
    from roadmap_bot.store.migrate import upgrade

    db = await Database.open(settings.database)
    try:
        done = await upgrade(db)
    finally:
        await db.close()
    if done.before == done.after:
        print(f"database {db.name}: already at schema {done.after}")
    else:
        print(f"database {db.name}: upgraded from {done.before or 'nothing'} to {done.after}")
    return EXIT_OK


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from roadmap_bot.app import open_app
    from roadmap_bot.pauses import settle_after_start
    from roadmap_bot.serve import Stopped, nothing_to_serve, serve, stop_on_signals, while_busy

    problem = nothing_to_serve(settings)
    if problem is not None:
        raise ConfigError(problem)
    stop = asyncio.Event()
    with stop_on_signals(stop):
        async with AsyncExitStack() as opened:
            try:
                app = await while_busy(
                    "opening the database",
                    lambda: opened.enter_async_context(open_app(settings)),
                    stop,
                )
                # once started, what lives as long as the process leaves the collector's reach
                await serve(app, stop, started=settle_after_start)
            except Stopped:
                pass
    return EXIT_OK


async def _health(args: argparse.Namespace, settings: Settings) -> int:
    from roadmap_bot.app import open_app

    async with open_app(settings) as app:
        summary = f"{len(app.catalog.projects)} projects, database {app.store.name}"
    if settings.serves_http and settings.http_port:
        # The running server's own view: ready (the database answers; in Socket Mode,
        # connected to Slack).
        problem = await asyncio.to_thread(_healthz, settings.http_port)
        if problem:
            print(f"unhealthy: {problem}")
            return EXIT_FAILED
        summary += f", /healthz on port {settings.http_port} answers"
    print(f"ok: {summary}")
    return EXIT_OK


def _healthz(port: int) -> str | None:
    """None when the local /healthz answers 200, else what went wrong."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return None if answer.status == 200 else f"/healthz answered {answer.status}"
    except urllib.error.HTTPError as error:
        return f"/healthz answered {error.code}"
    except OSError as error:
        return f"nothing answers on port {port}: {error}"


_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]] = {
    "dashboard": _dashboard,
    "ask": _ask,
    "console": _console,
    "catalog": _catalog,
    "digest": _digest,
    "reports": _reports,
    "db": _db,
    "serve": _serve,
    "health": _health,
}


if __name__ == "__main__":
    sys.exit(main())
