"""The study-group page's private link: one unguessable token per channel.

The token is an HMAC of the channel and a random per-channel salt under a secret key
(``ROADMAP_WEB_SECRET``; without it a random key kept in the database). Only the
token's SHA-256 is stored and looked up, so the links table alone opens nothing, yet the
bot can show the same link again in `dashboard` and in every weekly post. A reset draws
a new salt: the old token's hash is gone, and its link answers 404.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from roadmap_bot.clock import Clock
from roadmap_bot.store.groups import GroupStore, PageLink

PAGE_PATH = "/groups/{token}"
SECRET_META_KEY = "web.link_secret"
TOKEN_CHARS = 32  # 192 bits of the HMAC, URL-safe


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PageLinks:
    """Issues, shows, resets and resolves page links."""

    def __init__(
        self, store: GroupStore, clock: Clock, base_url: str, secret: str | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self._secret = secret.encode() if secret else None

    async def _key(self) -> bytes:
        if self._secret is None:
            self._secret = (await self.store.link_secret(secrets.token_hex(32))).encode()
        return self._secret

    async def _token(self, link: PageLink) -> str:
        digest = hmac.new(await self._key(), f"{link.channel}\n{link.salt}".encode(), "sha256")
        return base64.urlsafe_b64encode(digest.digest()).decode()[:TOKEN_CHARS]

    async def _issue(self, channel: str, *, replace: bool) -> PageLink:
        salt = secrets.token_hex(16)
        probe = PageLink(channel, salt, "", self.clock.now())
        token = await self._token(probe)
        return await self.store.save_link(
            channel, salt, token_hash(token), self.clock.now(), replace=replace
        )

    async def url(self, channel: str, *, reset: bool = False) -> str:
        """The channel's page address, issuing a link on first use (or a new one on reset)."""
        link = None if reset else await self.store.page_link(channel)
        if link is None:
            link = await self._issue(channel, replace=reset)
        return self.address(await self._token(link))

    async def urls(self, channels: list[str]) -> dict[str, str]:
        """Every channel's page address, issuing missing links in one write (weekly posts)."""
        links = await self.store.page_links(channels)
        missing = [c for c in dict.fromkeys(channels) if c not in links]
        if missing:
            fresh = []
            for channel in missing:
                salt = secrets.token_hex(16)
                token = await self._token(PageLink(channel, salt, "", self.clock.now()))
                fresh.append((channel, salt, token_hash(token)))
            await self.store.add_links(fresh, self.clock.now())
            links.update(await self.store.page_links(missing))
        return {c: self.address(await self._token(link)) for c, link in links.items()}

    def address(self, token: str) -> str:
        return self.base_url + PAGE_PATH.format(token=token)

    async def channel_of(self, token: str) -> str | None:
        """The channel a token opens; None for an unknown, malformed or revoked one."""
        if len(token) != TOKEN_CHARS or not token.replace("-", "").replace("_", "").isalnum():
            return None
        return await self.store.channel_of(token_hash(token))
