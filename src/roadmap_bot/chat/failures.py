"""The answer to a command the core could not finish, the same on every platform.

An adapter catches what escapes the core while answering. A database that is busy,
broken or unreachable is a condition of the deployment, not a bug: the person is told
what happened and whether trying again will help, and the operator gets one WARNING
line naming the problem (no traceback, it would only say where the query was). Anything
else is a bug and is logged with its traceback; the person gets the same apology on
every platform.
"""

from __future__ import annotations

import logging

from roadmap_bot.chat.replies import Reply, ReplyKind
from roadmap_bot.store.problems import database_problem

log = logging.getLogger(__name__)

_WAIT = Reply(
    kind=ReplyKind.ERROR,
    ok=False,
    title="The database is busy right now, so I could not answer.",
    text="Nothing was lost: please try the same command again in a minute.",
)
_BUG = Reply(
    kind=ReplyKind.ERROR,
    ok=False,
    title="Sorry, something went wrong on my side.",
    text="Please try again in a moment. If it keeps happening, tell whoever runs roadmap-bot:"
    " the details are in its logs.",
)
_BROKEN = Reply(
    kind=ReplyKind.ERROR,
    ok=False,
    title="I cannot read my database right now, so I could not answer.",
    text="Whoever runs roadmap-bot has been told in the logs. Please try again later.",
)


def failure_reply(exc: BaseException, what: str) -> Reply:
    """What to tell the person whose ``what`` (e.g. 'a Slack command') failed with
    ``exc``."""
    problem = database_problem(exc)
    if problem is None:
        log.error("answering %s failed", what, exc_info=exc)
        return _BUG
    log.warning(
        "answering %s: the database is %s (%s); the person was asked to try again",
        what,
        problem.kind,
        problem.detail,
    )
    return _BROKEN if problem.kind == "corrupt" else _WAIT
