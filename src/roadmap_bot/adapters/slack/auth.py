"""Bolt's single-workspace authorization, with its first ``auth.test`` shared.

Bolt asks Slack's ``auth.test`` at the first request and keeps the answer; requests that
arrive together before that answer is in each ask too (16 at once: 16 calls). Here the
first one asks and the others wait for its answer. ``serve`` usually has the answer
before the first request (``SlackAdapter.check_token``); this covers the rest: Slack
unreachable at start-up, or an adapter run without that check. Installs by OAuth use
Bolt's per-workspace authorization instead, untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_internals import (
    _build_user_facing_error_response,
    _is_no_auth_required,
)
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.middleware.authorization.internals import _is_no_auth_test_call_required
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError


class SharedAuthTest(AsyncSingleTeamAuthorization):
    """The same authorization, with one ``auth.test`` in flight at a time."""

    def __init__(self, bolts: AsyncSingleTeamAuthorization) -> None:
        super().__init__(
            user_facing_authorize_error_message=bolts.user_facing_authorize_error_message
        )
        self.logger = bolts.logger
        self.auth_test_result = bolts.auth_test_result
        self._asking = asyncio.Lock()

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt's name for it
    ) -> BoltResponse:
        if (
            self.auth_test_result is None
            and not _is_no_auth_required(req)
            and not _is_no_auth_test_call_required(req)
        ):
            async with self._asking:
                if self.auth_test_result is None:
                    try:
                        self.auth_test_result = await req.context.client.auth_test()
                    except SlackApiError as e:  # answered as Bolt answers it
                        self.logger.error(f"Failed to authorize with the given token ({e})")
                        return _build_user_facing_error_response(
                            self.user_facing_authorize_error_message
                        )
        # With the answer in, Bolt's own authorization takes it from here.
        return await super().async_process(req=req, resp=resp, next=next)


def share_first_auth_test(app: AsyncApp) -> None:
    """Swap the app's single-workspace authorization for :class:`SharedAuthTest`."""
    middleware = app._async_middleware_list
    for index, step in enumerate(middleware):
        if type(step) is AsyncSingleTeamAuthorization:
            middleware[index] = SharedAuthTest(step)
