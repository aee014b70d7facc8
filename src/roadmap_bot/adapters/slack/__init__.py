"""The Slack adapter: /roadmap over HTTP or Socket Mode, Block Kit, buttons and App Home.

Submodules are imported where they are used: ``blocks`` and ``escape`` are pure (no
Slack library), so ``roadmap-bot ask --format slack`` stays light; ``app``, ``server``
and ``api`` bring in slack_bolt / slack_sdk.
"""
