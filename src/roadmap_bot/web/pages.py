"""The study-group page: ``GET /groups/{token}``, read-only, server-rendered.

Jinja2 with autoescaping renders it (member names are what people typed: shown, never
markup); no script runs, and the Content-Security-Policy allows none. Access is by link
only: an unknown, malformed or revoked token gets the same 404 as a path that does not
exist, and nothing lists the groups.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from roadmap_bot.chat.replies import CELL_SYMBOLS, Cell
from roadmap_bot.groups.group_view import GroupPage, GroupView
from roadmap_bot.groups.page_links import PAGE_PATH
from roadmap_bot.groups.standing import StepState
from roadmap_bot.groups.streaks import top_streaks
from roadmap_bot.web.step_map import step_map


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("roadmap_bot.web", "templates"),
        autoescape=True,  # every value is text, whatever a member typed as their name
        trim_blocks=False,
        undefined=jinja2.StrictUndefined,
    )


@cache
def _css() -> str:
    return (resources.files("roadmap_bot.web") / "templates" / "page.css").read_text("utf-8")


@cache
def security_headers() -> dict[str, str]:
    """No script at all, only our own inline stylesheet (by its hash), no framing, no
    referrer leaking the private address, and no copy kept by shared caches."""
    digest = base64.b64encode(hashlib.sha256(_css().encode()).digest()).decode()
    policy = (
        "default-src 'none'; "
        f"style-src 'sha256-{digest}'; "
        "img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def _cell_html(cell: Cell, now: bool) -> str:
    css = f"cell-{cell.name.lower()}" + (" now" if now else "")
    return (
        f'<td class="{css}"><span aria-hidden="true">{CELL_SYMBOLS[cell]}</span>'
        f'<span class="sr">{cell.value}</span></td>'
    )


# Every cell is one of eight fixed snippets (no member text in them), so rows are joined
# here rather than looped over in the template: 50 members x 38 steps is 1,900 cells.
_CELLS = {(cell, now): _cell_html(cell, now) for cell in Cell for now in (False, True)}


def _row_cells(cells: tuple[Cell, ...], current: int | None) -> Markup:
    return Markup("".join(_CELLS[cell, i == current] for i, cell in enumerate(cells)))


def render_page(page: GroupPage) -> str:
    """The page's HTML for one study group."""
    found = page.standing
    steps = found.steps
    counts = {state.name.lower(): 0 for state in StepState}
    for step in steps:
        counts[step.state.name.lower()] += 1
    streaks = top_streaks(
        {m.user: m.streak for m in found.members},
        {m.user: m.name for m in found.members},
        limit=len(found.members),
    )
    context: dict[str, Any] = {
        "page": page,
        "steps": steps,
        "current": found.current_step,
        "current_index": found.current,
        "members": found.members,
        "cells": [_row_cells(m.cells, found.current) for m in found.members],
        "map": step_map(steps),
        "counts": counts,
        "symbols": CELL_SYMBOLS,
        "legend": [(CELL_SYMBOLS[c], c.value) for c in Cell],
        "streaks": [(name, s) for name, s in streaks],
        "css": _css(),
    }
    return _environment().get_template("group.html").render(context)


NOT_FOUND = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Not found</title>"
    "<h1>Not found</h1><p>This link does not open a study-group page. It may have been "
    "replaced: ask in the group's channel with <code>dashboard</code>.</p></html>"
)


def add_page_routes(application: web.Application, view: GroupView) -> None:
    """``GET /groups/{token}`` on ``application`` (the one HTTP server of the process)."""

    async def group_page(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        channel = await view.links.channel_of(token)
        page = await view.page(channel) if channel is not None else None
        if page is None:
            return web.Response(
                status=404, text=NOT_FOUND, content_type="text/html", headers=security_headers()
            )
        return web.Response(
            text=render_page(page), content_type="text/html", headers=security_headers()
        )

    application.router.add_get(PAGE_PATH, group_page)  # aiohttp reads {token} too
