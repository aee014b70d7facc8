"""Slack text escaping: what people typed is shown, never parsed.

Slack reads ``& < >`` as control characters in every text object (``<!channel>``,
``<@U123>``, ``<url|label>``), so all text from a Reply is escaped to ``&amp; &lt; &gt;``
before it meets our own markup. Limits are counted on the escaped text, which is what
Slack checks, and trimming never cuts an entity in half.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote

ELLIPSIS = "…"
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """``& < >`` as entities, so no mention, broadcast or link can be formed."""
    # Three replaces beat str.translate with a table of multi-character entities ~8x
    # (a card escapes dozens of strings); '&' goes first so no entity is escaped twice.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """Escape ``text`` and trim it to ``limit`` characters, ending with '…' when cut."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    for char in text:
        piece = _ENTITIES.get(char, char)
        if used + len(piece) > limit - len(ELLIPSIS):
            break
        out.append(piece)
        used += len(piece)
    return "".join(out).rstrip() + ELLIPSIS


def trim(markup: str, limit: int) -> str:
    """Trim already-built mrkdwn at a line end when possible, never inside an entity or link."""
    if len(markup) <= limit:
        return markup
    cut = markup.rfind("\n", 0, limit - len(ELLIPSIS))
    if cut <= 0:
        cut = limit - len(ELLIPSIS)
        # Step back out of an '&...;' entity or a '<...>' link we would split.
        amp, semi = markup.rfind("&", 0, cut), markup.rfind(";", 0, cut)
        if amp > semi:
            cut = amp
        opening, closing = markup.rfind("<", 0, cut), markup.rfind(">", 0, cut)
        if opening > closing:
            cut = opening
    return markup[:cut].rstrip() + ELLIPSIS


@lru_cache(maxsize=4096)
def safe_url(url: str) -> str:
    """A URL that cannot end a Slack link early: '|', '<', '>' percent-encoded, '&' escaped."""
    return escape(quote(url, safe=":/?#[]@!$&'()*+,;=%~-._"))


def link(url: str, label: str) -> str:
    """A mrkdwn link whose label is shown as typed."""
    return f"<{safe_url(url)}|{escape(label).replace('|', '¦')}>"


# What Slack sends for typed text: '& < >' as entities, and '<...>' for what the client
# turned into a link, a channel, a mention or a broadcast. Mentions of users are read in
# people.py (they need names); everything else is put back the way it was typed here.
_SENT = re.compile(r"<([^<>]*)>|&(amp|lt|gt);")
_TYPED_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_BROADCASTS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def as_typed(text: str) -> str:
    """Slack's escaped command text back as the user typed it.

    ``&amp; &lt; &gt;`` become ``& < >``; ``<https://x|label>`` becomes ``label`` and
    ``<https://x>`` the URL; ``<#C1|name>`` becomes ``#name`` (``#C1`` without a name);
    ``<!here>`` / ``<!channel>`` / ``<!everyone>`` become ``@here`` and the like; a user
    group or date shows its label. One pass, so ``&amp;lt;`` is the typed ``&lt;``.
    """
    return _SENT.sub(_typed, text)


def _typed(match: re.Match[str]) -> str:
    entity = match.group(2)
    if entity is not None:
        return _TYPED_ENTITIES[entity]
    inner = match.group(1)
    target, _, label = inner.partition("|")
    label = _SENT.sub(_typed, label).strip()
    if target.startswith("#"):
        return "#" + (label.lstrip("#") or target[1:])
    if target.startswith("@"):
        return "@" + (label.lstrip("@") or target[1:])
    if target.startswith("!"):
        word = target[1:]
        if word in _BROADCASTS:
            return _BROADCASTS[word]
        if word.startswith("subteam^"):
            return label or "@" + word.removeprefix("subteam^")
        return label or word.split("^", 1)[0]
    return label or _SENT.sub(_typed, target)
