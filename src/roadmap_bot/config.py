"""Every setting, from the environment or a ``.env`` file.

Names are the environment variables themselves, so the README's table, the error
messages and the code all say the same thing. Secrets are ``SecretStr``: they never
appear in a repr or a log line.

The variables are read here rather than by pydantic-settings, which imports every source
it supports (cloud secret stores, YAML, a CLI parser, ...): ~20 ms at each start of every
one-shot command. The rules are the ones it applied: names in any case, an argument before
the environment, the environment before ``.env``, ``.env`` read by python-dotenv.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from roadmap_bot.weekly import MAX_ZONE_CHARS

# ROADMAP_LEASE_SECONDS: below 5 s, a renewal delayed by a busy machine could let the
# lease of a replica that is still posting lapse; above an hour, a dead replica's
# digests would wait that long.
DEFAULT_LEASE_SECONDS = 120.0
LEASE_SECONDS_RANGE = (5.0, 3600.0)
DEFAULT_REPORT_URL = "https://raw.githubusercontent.com/thxtech/ossarch/main/oss/{name}/README.md"
ENV_FILE = ".env"  # in the working directory


def _variables(names: set[str], env_file: str | Path | None) -> dict[str, str]:
    """The variables among ``names`` (lower case) that are set: the environment's, else the
    ``env_file``'s, keyed by their lower-case name."""
    found: dict[str, str | None] = {}
    if env_file is not None:
        path = Path(env_file).expanduser()
        if path.is_file() or path.is_fifo():
            from dotenv import dotenv_values  # only when there is a file to read

            found.update((k.lower(), v) for k, v in dotenv_values(path, encoding="utf-8").items())
    found.update((k.lower(), v) for k, v in os.environ.items())
    return {name: value for name, value in found.items() if name in names and value is not None}


class Settings(BaseModel):
    """Settings from keyword arguments named like the variables (``ROADMAP_DB="x.db"``),
    else the environment, else ``_env_file`` (None: no file). Defaults are checked too."""

    model_config = ConfigDict(extra="ignore", populate_by_name=False, validate_default=True)

    def __init__(self, _env_file: str | Path | None = ENV_FILE, **values: Any) -> None:
        names = [
            str(name)
            for field in type(self).model_fields.values()
            for name in getattr(field.validation_alias, "choices", ())
        ]
        canonical = {name.lower(): name for name in names}  # names match in any case
        found = _variables(set(canonical), _env_file)
        given = {name: found[lower] for lower, name in canonical.items() if lower in found}
        given.update((canonical.get(key.lower(), key), value) for key, value in values.items())
        super().__init__(**given)

    # -- core -----------------------------------------------------------------------
    db: str = Field("./roadmap-bot.db", validation_alias=AliasChoices("ROADMAP_DB"))
    # sqlite:///FILE or postgresql://...; wins over ROADMAP_DB. A secret: it may hold a password
    database_url: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ROADMAP_DATABASE_URL")
    )
    catalog: Path | None = Field(None, validation_alias=AliasChoices("ROADMAP_CATALOG"))
    log_level: str = Field("INFO", validation_alias=AliasChoices("ROADMAP_LOG_LEVEL"))

    # -- Slack ----------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_APP_TOKEN")
    )
    slack_api_url: str | None = Field(None, validation_alias=AliasChoices("SLACK_API_URL"))
    # Installs by OAuth into many workspaces (instead of one SLACK_BOT_TOKEN).
    slack_client_id: str | None = Field(None, validation_alias=AliasChoices("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_CLIENT_SECRET")
    )
    slack_redirect_uri: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_REDIRECT_URI")
    )
    slack_authorize_url: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_AUTHORIZE_URL")
    )
    slack_admins: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("ROADMAP_SLACK_ADMINS")
    )
    http_host: str = Field("0.0.0.0", validation_alias=AliasChoices("ROADMAP_HTTP_HOST"))
    http_port: int = Field(3000, ge=0, le=65535, validation_alias=AliasChoices("ROADMAP_HTTP_PORT"))

    # -- the study-group page (served on the same HTTP server) -------------------------
    web_url: str | None = Field(None, validation_alias=AliasChoices("ROADMAP_WEB_URL"))
    web_secret: SecretStr | None = Field(None, validation_alias=AliasChoices("ROADMAP_WEB_SECRET"))

    # -- Discord --------------------------------------------------------------------
    discord_token: SecretStr | None = Field(None, validation_alias=AliasChoices("DISCORD_TOKEN"))
    discord_guild_id: int | None = Field(None, validation_alias=AliasChoices("DISCORD_GUILD_ID"))
    discord_api_url: str | None = Field(None, validation_alias=AliasChoices("DISCORD_API_URL"))
    discord_gateway_url: str | None = Field(
        None, validation_alias=AliasChoices("DISCORD_GATEWAY_URL")
    )
    # Sharding: unset, one connection (shard 0 of 1); 'auto', as many shards as Discord
    # recommends, all in this process; N, N shards, this process connecting
    # DISCORD_SHARD_IDS of them (default: all).
    discord_shard_count: int | Literal["auto"] | None = Field(
        None, validation_alias=AliasChoices("DISCORD_SHARD_COUNT")
    )
    discord_shard_ids: list[int] | None = Field(
        None, validation_alias=AliasChoices("DISCORD_SHARD_IDS")
    )

    # -- digests and reports --------------------------------------------------------
    catchup_hours: float = Field(24.0, ge=0, validation_alias=AliasChoices("ROADMAP_CATCHUP_HOURS"))
    # How long a claim on a digest outlives a replica that died holding it (renewed every
    # quarter of it while the replica lives): the others take the digest over after it.
    lease_seconds: float = Field(
        DEFAULT_LEASE_SECONDS, validation_alias=AliasChoices("ROADMAP_LEASE_SECONDS")
    )
    default_timezone: str = Field("UTC", validation_alias=AliasChoices("ROADMAP_TIMEZONE"))
    report_url: str = Field(DEFAULT_REPORT_URL, validation_alias=AliasChoices("ROADMAP_REPORT_URL"))

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_secret",
        "discord_token",
        "web_secret",
    )
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        # `SLACK_BOT_TOKEN=` (say, an unfilled line of a compose file) is a mistake, not
        # "unset": starting would report healthy and then fail every request.
        if value is not None and not value.get_secret_value().strip():
            raise ValueError(
                "is set but empty: give it a value, or remove the line to leave it unset"
            )
        return value

    @field_validator("catalog")
    @classmethod
    def _catalog_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value

    @field_validator("db")
    @classmethod
    def _db(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a SQLite file")
        if value != ":memory:":
            parent = Path(value).expanduser().resolve().parent
            if not parent.is_dir():
                raise ValueError(f"the folder {parent} does not exist")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value().strip()
        if not url.startswith(("sqlite://", "postgresql://", "postgres://", "postgresql+")):
            raise ValueError(
                "must be sqlite:///path/to/file.db or postgresql://user:password@host:port/dbname"
            )
        return SecretStr(url)

    @property
    def database(self) -> str:
        """Where the store lives: ROADMAP_DATABASE_URL, else the ROADMAP_DB file."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return self.db

    @property
    def db_display(self) -> str:
        """The database for messages: the SQLite file, or the URL without its password."""
        from sqlalchemy.engine import make_url

        return (
            make_url(self.database).render_as_string(hide_password=True)
            if (self.database_url is not None)
            else self.db
        )

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("slack_admins", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if len(value) > MAX_ZONE_CHARS:
            raise ValueError(
                f"is {len(value)} characters long; no IANA time zone is over {MAX_ZONE_CHARS}"
            )
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value

    @field_validator("lease_seconds", mode="before")
    @classmethod
    def _lease_seconds(cls, value: Any) -> Any:
        low, high = LEASE_SECONDS_RANGE
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = float("nan")
        if not low <= seconds <= high:  # NaN fails too
            raise ValueError(
                f"must be a number of seconds from {low:g} to {high:g} (default "
                f"{DEFAULT_LEASE_SECONDS:g}): how long a replica that died keeps its "
                "digests before the others take them over"
            )
        return seconds

    @field_validator("report_url")
    @classmethod
    def _report_url(cls, value: str) -> str:
        if "{name}" not in value:
            raise ValueError("must contain {name}, replaced by the project's slug")
        return value

    @field_validator(
        "slack_api_url",
        "slack_redirect_uri",
        "slack_authorize_url",
        "discord_api_url",
        "discord_gateway_url",
    )
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"{value!r} is not a URL")
        return value

    @field_validator("discord_shard_count", mode="before")
    @classmethod
    def _shard_count(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if value in ("", "auto"):
                return value or None
            if not value.isdigit() or int(value) < 1:
                raise ValueError("use a whole number of shards (1 or more) or 'auto'")
        return value

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        ids: list[int] = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            first, _, last = part.partition("-")
            if not first.isdigit() or (last and not last.isdigit()):
                raise ValueError(f"{part!r} is not a shard id or a range: use e.g. '0,1' or '0-3'")
            ids.extend(range(int(first), int(last or first) + 1))
        return ids or None

    def shard_problem(self) -> str | None:
        """What is wrong with DISCORD_SHARD_COUNT / DISCORD_SHARD_IDS together, if anything.

        Checked here rather than by a model validator, whose error would echo every input.
        """
        ids, count = self.discord_shard_ids, self.discord_shard_count
        if ids is None:
            return None
        if not isinstance(count, int):
            return (
                "DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT set to a number "
                "(the ids are shares of that many shards)"
            )
        outside = sorted({i for i in ids if i >= count})
        if outside:
            return (
                f"DISCORD_SHARD_IDS: {outside} outside 0-{count - 1} (DISCORD_SHARD_COUNT={count})"
            )
        if len(set(ids)) != len(ids):
            return "DISCORD_SHARD_IDS: names a shard twice"
        return None

    @field_validator("web_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) address, e.g. https://bot.example.org")
        return value.rstrip("/") if value else value

    @property
    def public_web_url(self) -> str:
        """Where people open the study-group page: ROADMAP_WEB_URL, else this host's port."""
        return self.web_url or f"http://localhost:{self.http_port or 3000}"

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log redactor."""
        secrets = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.slack_client_secret,
            self.discord_token,
            self.web_secret,
        )
        found = [s.get_secret_value() for s in secrets if s is not None]
        if self.database_url is not None:  # the URL, and its password on its own
            found.append(self.database_url.get_secret_value())
            password = urlsplit(self.database_url.get_secret_value()).password
            if password:
                found.append(password)
        return found

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None or self.slack_oauth

    @property
    def slack_oauth(self) -> bool:
        """Installed by OAuth into any number of workspaces (SLACK_CLIENT_ID is set)."""
        return self.slack_client_id is not None

    @property
    def discord_configured(self) -> bool:
        return self.discord_token is not None

    @property
    def serves_http(self) -> bool:
        """``serve`` runs an HTTP server (/healthz, /metrics) whenever a platform is on."""
        return self.slack_configured or self.discord_configured


class ConfigError(Exception):
    """Settings that cannot work; the message names each variable and the fix."""


def load_settings(**overrides: Any) -> Settings:
    """Read settings; turn pydantic's errors into one readable start-up message."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "setting"
            message = err["msg"].removeprefix("Value error, ")
            given = err.get("input")
            secret = any(word in name for word in ("SECRET", "TOKEN", "DATABASE_URL"))
            shown = "" if secret else f" (got {given!r})"
            lines.append(f"{name}: {message}{shown}")
        if len(lines) == 1:  # the usual case: one line an operator reads at a glance
            raise ConfigError(f"bad configuration: {lines[0]}") from None
        raise ConfigError(
            "bad configuration:\n" + "\n".join(f"  {line}" for line in lines)
        ) from None
    problem = settings.shard_problem()
    if problem is not None:
        raise ConfigError(f"bad configuration: {problem}")
    return settings
