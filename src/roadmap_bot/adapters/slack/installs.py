"""Many Slack workspaces: OAuth installs kept in the bot's database, a token per workspace.

With ``SLACK_CLIENT_ID`` and ``SLACK_CLIENT_SECRET`` the app is installed by OAuth
(``/slack/install`` -> Slack -> ``/slack/oauth_redirect``, Bolt's flow) into any number
of workspaces. slack_sdk's SQLAlchemy installation and state stores keep the bot tokens
and the one-time ``state`` values in the same database as everything else, so every
replica sees every install. Commands are authorized by Bolt per request; everything
else (profiles, the Home tab, digests) asks :class:`Tokens` for the workspace's token.

With ``SLACK_BOT_TOKEN`` instead (one workspace), :class:`OneToken` answers None: the
client's own token is used, exactly as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import ColumnElement, Table, and_, delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from roadmap_bot.adapters.slack.people import Install
from roadmap_bot.adapters.slack.tokens import Installed, NotInstalled, is_organization
from roadmap_bot.config import Settings
from roadmap_bot.store.database import database_url as store_url

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# What the bot asks for when installed; the same list as deploy/'s manifests.
BOT_SCOPES = (
    "commands",
    "users:read",
    "chat:write",
    "chat:write.public",
    "channels:history",
    "groups:history",
)
STATE_SECONDS = 600  # an install started and not finished within 10 minutes starts over
# pg_advisory_xact_lock key for creating slack_sdk's tables (any fixed number of our own)
TABLES_LOCK = 0x726F61646D6170  # "roadmap"
TOKEN_TTL = 30.0  # seconds a looked-up token is reused (uninstalls also drop it at once)


class InstalledTokens:
    """Installation tokens from the installation store, reused for a few seconds.

    An installation is named by its key: an enterprise id (``E...``) for an org-wide
    Enterprise Grid install, else the workspace's team id, whether or not that workspace
    belongs to a Grid organization (slack_sdk's own lookup needs the enterprise too, and a
    channel id ``slack:T1:C1`` does not carry it).
    """

    def __init__(
        self,
        store: AsyncSQLAlchemyInstallationStore,
        *,
        ttl: float = TOKEN_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._known: dict[str, tuple[float, str]] = {}

    async def for_team(self, team: str) -> str | None:
        now = self.clock()
        hit = self._known.get(team)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        bots = self.store.bots
        query = (
            select(bots.c.bot_token)
            .where(
                bots.c.client_id == self.store.client_id,
                _installation(bots, team),
                bots.c.bot_token.is_not(None),
            )
            .order_by(bots.c.installed_at.desc())
            .limit(1)
        )
        async with self.store.engine.connect() as conn:
            token = (await conn.execute(query)).scalar()
        if not token:
            self._known.pop(team, None)
            raise NotInstalled(team)
        self._known[team] = (now, str(token))
        return str(token)

    def forget(self, team: str) -> None:
        self._known.pop(team, None)


def _installation(table: Table, key: str) -> ColumnElement[bool]:
    """The rows of the installation ``key`` names (see :class:`InstalledTokens`)."""
    if is_organization(key):
        return and_(table.c.enterprise_id == key, table.c.team_id.is_(None))
    return table.c.team_id == key


def database_url(settings: Settings) -> str:
    """The bot's own database (ROADMAP_DATABASE_URL, else the ROADMAP_DB file) as the async
    SQLAlchemy URL slack_sdk's stores open."""
    if settings.database == ":memory:":
        raise ValueError("OAuth installs need a database file (ROADMAP_DB), not :memory:")
    url = store_url(settings.database)
    if url.get_backend_name() == "sqlite" and url.database:
        url = url.set(database=str(Path(url.database).expanduser().resolve()))
    return url.render_as_string(hide_password=False)


@dataclass
class SlackInstalls:
    """The installation and state stores on the bot's database, and the engine under them."""

    engine: AsyncEngine
    installations: AsyncSQLAlchemyInstallationStore
    states: AsyncSQLAlchemyOAuthStateStore
    tokens: InstalledTokens
    # Bolt's per-request authorization, once oauth_settings made it (see there).
    authorize: AsyncInstallationStoreAuthorize | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> SlackInstalls:
        if settings.slack_client_id is None:
            raise ValueError("SLACK_CLIENT_ID is not set")
        engine = create_async_engine(database_url(settings), pool_pre_ping=True)
        installations = AsyncSQLAlchemyInstallationStore(
            client_id=settings.slack_client_id,
            engine=engine,
            logger=logging.getLogger("roadmap_bot.slack.installs"),
        )
        states = AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_SECONDS,
            engine=engine,
            logger=logging.getLogger("roadmap_bot.slack.installs"),
        )
        return cls(engine, installations, states, InstalledTokens(installations))

    async def create_tables(self) -> None:
        """slack_sdk's tables (slack_bots, slack_installations, slack_oauth_states), if missing.

        Replicas starting together on a new PostgreSQL would each see the tables missing
        and race to create them (the loser fails on a duplicate catalog row and serve
        stops); a transaction-scoped advisory lock makes them take turns, and each one
        after the first finds the tables there."""
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TABLES_LOCK})
            await conn.run_sync(self.installations.metadata.create_all)
            await conn.run_sync(self.states.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    async def installation(self, team: str) -> Install | None:
        """The installation ``team`` names (a team, or an enterprise when org-wide), with
        its organization and name; None when it is not installed."""
        bots = self.installations.bots
        c = bots.c
        query = (
            select(c.team_id, c.enterprise_id, c.is_enterprise_install, c.team_name)
            .where(c.client_id == self.installations.client_id, _installation(bots, team))
            .order_by(c.installed_at.desc())
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Install(
            team=row.team_id or None,
            enterprise=row.enterprise_id or None,
            org_wide=bool(row.is_enterprise_install),
            name=row.team_name or None,
        )

    async def name_of(self, team: str) -> str | None:
        """The installation's workspace (or organization) name, as installed."""
        bots = self.installations.bots
        column = bots.c.enterprise_name if is_organization(team) else bots.c.team_name
        query = (
            select(column)
            .where(bots.c.client_id == self.installations.client_id, _installation(bots, team))
            .order_by(bots.c.installed_at.desc())
            .limit(1)
        )
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).scalar()
        return str(found) if found else None

    async def remove(self, team: str) -> None:
        """Forget the installation ``team`` names (a team, or an enterprise when org-wide)
        and its tokens."""
        async with self.engine.begin() as conn:
            for table in (self.installations.installations, self.installations.bots):
                await conn.execute(
                    delete(table).where(
                        table.c.client_id == self.installations.client_id,
                        _installation(table, team),
                    )
                )
        self.tokens.forget(team)
        if self.authorize is not None:
            cache = self.authorize.authorize_result_cache
            for token, result in list(cache.items()):
                if team in (result.team_id, result.enterprise_id):
                    del cache[token]

    def oauth_settings(self, settings: Settings, on_installed: Installed) -> AsyncOAuthSettings:
        """Bolt's OAuth flow on our stores; ``on_installed`` hears of each new install."""
        assert settings.slack_client_id is not None and settings.slack_client_secret is not None

        async def success(args: AsyncSuccessArgs) -> BoltResponse:
            done = args.installation
            team = done.enterprise_id if done.is_enterprise_install else done.team_id
            if team:
                self.tokens.forget(team)
                await on_installed(team)
                log.info("Slack workspace %s installed the app", team)
            return await args.default.success(args)

        async def failure(args: Any) -> BoltResponse:
            log.warning("a Slack install failed: %s", args.reason)
            return await args.default.failure(args)  # type: ignore[no-any-return]

        oauth = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            scopes=list(BOT_SCOPES),
            redirect_uri=settings.slack_redirect_uri,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            authorization_url=settings.slack_authorize_url,
            installation_store=self.installations,
            installation_store_bot_only=True,
            state_store=self.states,
            state_expiration_seconds=STATE_SECONDS,
            callback_options=AsyncCallbackOptions(success=success, failure=failure),
            logger=logging.getLogger("roadmap_bot.slack.installs"),
        )
        if isinstance(oauth.authorize, AsyncInstallationStoreAuthorize):
            # Bolt authorizes every request: it finds the installation in the database,
            # then asks Slack's auth.test about its token, a round trip to Slack inside
            # every command's 3-second ack. A token's answer never changes, so it is kept
            # per token. A removed installation is still refused (the database lookup runs
            # every time and finds none); a new install brings a new token; remove()
            # drops the removed team's answers.
            oauth.authorize.cache_enabled = True
            self.authorize = oauth.authorize
        return oauth
