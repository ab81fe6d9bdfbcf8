"""Prometheus metrics of the bot, on a registry of its own (never the process-global default).

Several bots may live in one process (tests, the shell), so each ``BotRuntime`` owns one
``Metrics`` and ``GET /metrics`` renders exactly that registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """The counters the Slack layer updates; cheap to create, one per runtime."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "krayne_commands",
            "Slash commands handled, by command and outcome.",
            ["command", "outcome"],
            registry=r,
        )
        self.actions = Counter(
            "krayne_actions", "Button presses handled, by action.", ["action"], registry=r
        )
        self.retries_ignored = Counter(
            "krayne_slack_retries_ignored",
            "Requests Slack re-sent that were already handled.",
            registry=r,
        )
        self.slack_calls = Counter(
            "krayne_slack_calls",
            "Web API calls made by the outbox, by method and outcome.",
            ["method", "outcome"],
            registry=r,
        )
        self.rate_limited = Counter(
            "krayne_slack_rate_limited", "429 answers honoured by waiting Retry-After.", registry=r
        )
        self.coalesced = Counter(
            "krayne_outbox_coalesced", "Card updates merged into a queued update.", registry=r
        )
        self.response_url_failures = Counter(
            "krayne_response_url_failures",
            "response_url posts Slack refused (expired, used up); answered by chat.postEphemeral.",
            registry=r,
        )
        self.queued = Gauge("krayne_outbox_queued", "Messages waiting in the outbox.", registry=r)
        self.notifications = Counter(
            "krayne_notifications", "Thread replies posted, by phase.", ["phase"], registry=r
        )
        self.ack_seconds = Histogram(
            "krayne_ack_seconds",
            "Time from request to HTTP answer (Slack allows 3 s).",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0),
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
