"""The people in the Discord tests' guild: two members and a moderator.

Their own module, not tests/discord/conftest.py: pytest imports every folder's conftest
as the one module ``conftest``, so `pytest tests/discord tests/slack` would hand the
Discord tests the Slack folder's conftest."""

from __future__ import annotations

from fakes.discord_server import MANAGE_CHANNELS, MEMBER_PERMISSIONS, FakeUser, snowflake

ALICE = FakeUser(snowflake(), "alice")
BOB = FakeUser(snowflake(), "bob")
MODERATOR = FakeUser(snowflake(), "mod", permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS)
