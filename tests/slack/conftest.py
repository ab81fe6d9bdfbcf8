"""Fixtures: a started Slack double and a real slack_sdk client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_double.records import Channel, User
from bot.slack_double.server import SlackDouble

TOKEN = "xoxb-test-token"
CHANNELS = (
    Channel("C0001", "general"),
    Channel("C0002", "random", is_member=False),
    Channel("C0003", "secret", is_private=True, members=frozenset({"U0001", "UBOT"})),
)
USERS = (User("U0001", "alice", "Alice Example"), User("U0002", "bob", "Bob Example"))


@pytest.fixture
async def double() -> AsyncIterator[SlackDouble]:
    async with SlackDouble(bot_token=TOKEN, channels=CHANNELS, users=USERS) as running:
        yield running


@pytest.fixture
def client(double: SlackDouble) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=double.base_url)
