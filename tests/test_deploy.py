"""deploy/compose.yaml: PostgreSQL, a migration step, replicas with health checks, and
only settings the bot knows (a typo there would silently do nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from roadmap_bot.config import Settings, load_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    return loaded


def setting_names() -> set[str]:
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(getattr(alias, "choices", ()))
    return {str(n) for n in names}


def replicas(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if s.get("command") is None and "build" in s}


def test_postgres_then_migrations_then_replicas() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    migrate = services["migrate"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    bots = replicas(services)
    assert len(bots) >= 2
    ports = []
    for bot in bots.values():
        # a replica starts only on a migrated database, and is watched through /healthz
        assert bot["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert bot["healthcheck"]["test"] == ["CMD", "roadmap-bot", "health"]
        assert bot["environment"]["ROADMAP_DATABASE_URL"].startswith("postgresql://")
        ports.extend(p.split(":")[0] for p in bot["ports"])
    assert len(ports) == len(set(ports))


def test_each_replica_owns_its_own_discord_shards_and_together_all() -> None:
    bots = replicas(compose()["services"])
    owned: list[int] = []
    count = None
    for bot in bots.values():
        env = bot["environment"]
        settings = load_settings(
            _env_file=None,
            DISCORD_SHARD_COUNT=env["DISCORD_SHARD_COUNT"],
            DISCORD_SHARD_IDS=env["DISCORD_SHARD_IDS"],
        )
        count = settings.discord_shard_count
        owned.extend(settings.discord_shard_ids or [])
    assert isinstance(count, int)
    assert sorted(owned) == list(range(count))  # no shard twice, none left out


def test_only_settings_the_bot_reads() -> None:
    known = setting_names() | {"POSTGRES_PASSWORD"}
    services = compose()["services"]
    for bot in replicas(services).values():
        assert set(bot["environment"]) <= known, set(bot["environment"]) - known
    example = (DEPLOY / "compose.env.example").read_text("utf-8")
    named = {
        line.lstrip("# ").split("=", 1)[0]
        for line in example.splitlines()
        if "=" in line and line.lstrip("# ")[:1].isupper()
    }
    assert named and named <= known, named - known
