"""The ``roadmap-bot`` program (the console script, ``python -m roadmap_bot``): what a
process of its own does around :func:`roadmap_bot.cli.main`, which tests and other
processes call and go on living. See ``pauses.py`` for why."""

from __future__ import annotations

import sys
from typing import NoReturn

from roadmap_bot import pauses  # before anything heavy: it imports only gc and logging


def run() -> NoReturn:
    """Import the command line, run it, exit with its code."""
    with pauses.imports_frozen():
        from roadmap_bot.cli import main

    code = main()
    pauses.settle_before_exit()
    sys.exit(code)
