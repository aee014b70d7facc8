"""The local console: the /roadmap language in a terminal, as ``console:<login>``.

Interactive with a prompt on a terminal; line by line until EOF when stdin is a pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.failures import failure_reply
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.chat.replies import Reply
from roadmap_bot.groups.digest import Digest
from roadmap_bot.store.problems import database_problem

PROMPT = "roadmap> "
QUIT_WORDS = frozenset({"quit", "exit", ":q"})


def login_name() -> str:
    """The person at the terminal: their login, or 'me' when it cannot be told."""
    try:
        return getpass.getuser() or "me"
    except Exception:  # no login name in some containers
        return "me"


def console_asker(user: str | None = None, channel: str | None = None) -> Asker:
    name = (user or login_name()).strip().lstrip("@") or "me"
    return Asker(
        id=f"console:{name}",
        name=name,
        channel=f"console:{channel.lstrip('#')}" if channel else None,
    )


def strip_slash(line: str) -> str:
    """People paste '/roadmap next' out of habit: accept it."""
    text = line.strip()
    if text.casefold().startswith("/roadmap"):
        text = text[len("/roadmap") :].strip()
    return text


async def read_line(read: Callable[[], str]) -> str:
    """``read()`` in a daemon thread. ``asyncio.to_thread`` would leave a thread blocked
    on the terminal that the interpreter waits for at exit: Ctrl-C in ``serve`` would
    then hang until Enter was pressed."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def settle(result: str | None, error: BaseException | None) -> None:
        if answer.done():  # cancelled meanwhile: nobody waits for this line
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result or "")

    def work() -> None:
        try:
            result, error = read(), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed: the process is leaving
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="console-input", daemon=True).start()
    return await answer


async def run_console(
    roadmap: Roadmap,
    asker: Asker,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Answer lines until EOF (or 'quit' on a terminal)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty()
    if interactive:
        stdout.write(
            f"roadmap-bot console, signed in as {asker.id}. "
            "Type 'help' for commands, 'quit' to leave.\n"
        )
    while True:
        if interactive:
            try:
                line = await read_line(lambda: input(PROMPT))
            except EOFError:
                stdout.write("\n")
                break
        else:
            line = await read_line(stdin.readline)
            if not line:
                break
        text = strip_slash(line)
        if text.casefold() in QUIT_WORDS:
            break
        if not text:
            continue
        try:
            reply = await roadmap.ask(text, asker)
        except Exception as exc:
            # A failure ends this command, not the console. Here the person is also the
            # operator: a database problem is told with its detail.
            problem = database_problem(exc)
            if problem is None:
                reply = failure_reply(exc, "a console command")
            else:
                stdout.write(f"Sorry: {problem.line('the database')}.\n\n")
                stdout.flush()
                continue
        stdout.write(render_text(reply, roadmap.parse) + "\n\n")
        stdout.flush()


class ConsolePoster:
    """Console channels are a platform too: their digests are printed."""

    platform = "console"
    min_interval = 0.0

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def _write(self, text: str) -> None:
        out = self.out or sys.stdout
        out.write(text + "\n\n")
        out.flush()

    async def post(self, channel: str, message: Reply, delivery_id: str) -> str:
        name = channel.split(":", 1)[1]
        self._write(f"--- #{name} ---\n{render_text(message)}")
        return f"console:{delivery_id}"

    async def post_discussion(
        self, channel: str, message_id: str, digest: Digest, delivery_id: str
    ) -> None:
        if digest.discussion is not None:
            name = channel.split(":", 1)[1]
            self._write(f"--- #{name} (thread) ---\n{render_text(digest.discussion)}")

    async def find_post(self, channel: str, delivery_id: str, since: object) -> str | None:
        return None  # a terminal keeps no history: the ledger alone decides

    async def find_discussion(self, channel: str, message_id: str, delivery_id: str) -> bool:
        return False
