"""Every setting, from the environment or a ``.env`` file (pydantic-settings).

Names are the environment variables themselves, so the README's table, the error
messages and the code all say the same thing. Secrets are ``SecretStr``: they never
appear in a repr or a log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_REPORT_URL = "https://raw.githubusercontent.com/thxtech/ossarch/main/oss/{name}/README.md"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=False
    )

    # -- core -----------------------------------------------------------------------
    db: str = Field("./roadmap-bot.db", validation_alias=AliasChoices("ROADMAP_DB"))
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
    slack_admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("ROADMAP_SLACK_ADMINS")
    )
    http_host: str = Field("0.0.0.0", validation_alias=AliasChoices("ROADMAP_HTTP_HOST"))
    http_port: int = Field(3000, ge=0, le=65535, validation_alias=AliasChoices("ROADMAP_HTTP_PORT"))

    # -- Discord --------------------------------------------------------------------
    discord_token: SecretStr | None = Field(None, validation_alias=AliasChoices("DISCORD_TOKEN"))
    discord_guild_id: int | None = Field(None, validation_alias=AliasChoices("DISCORD_GUILD_ID"))
    discord_api_url: str | None = Field(None, validation_alias=AliasChoices("DISCORD_API_URL"))
    discord_gateway_url: str | None = Field(
        None, validation_alias=AliasChoices("DISCORD_GATEWAY_URL")
    )

    # -- digests and reports --------------------------------------------------------
    catchup_hours: float = Field(24.0, ge=0, validation_alias=AliasChoices("ROADMAP_CATCHUP_HOURS"))
    default_timezone: str = Field("UTC", validation_alias=AliasChoices("ROADMAP_TIMEZONE"))
    report_url: str = Field(DEFAULT_REPORT_URL, validation_alias=AliasChoices("ROADMAP_REPORT_URL"))

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
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value

    @field_validator("report_url")
    @classmethod
    def _report_url(cls, value: str) -> str:
        if "{name}" not in value:
            raise ValueError("must contain {name}, replaced by the project's slug")
        return value

    @field_validator("slack_api_url", "discord_api_url", "discord_gateway_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"{value!r} is not a URL")
        return value

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None

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
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "setting"
            message = err["msg"].removeprefix("Value error, ")
            given = err.get("input")
            shown = "" if "SECRET" in name or "TOKEN" in name else f" (got {given!r})"
            lines.append(f"  {name}: {message}{shown}")
        raise ConfigError("bad configuration:\n" + "\n".join(lines)) from None
