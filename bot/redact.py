"""Keep where the Kubernetes API server is, and who the bot is on it, out of Slack.

Error texts are written for operators (``Cannot reach the Kubernetes API at
https://10.0.0.1:443: connection refused``; a 403 quoting ``User
"system:serviceaccount:krayne:krayne-bot"``) and go to the logs whole. What a Slack user sees
passes through :func:`redact` first: a workspace member learns that the API failed and why,
not the address to aim at or the identity to impersonate. Pure string functions.
"""

from __future__ import annotations

import re

HIDDEN_ADDRESS = "(address hidden)"
BOT_IDENTITY = "the bot"
BOT_ACCOUNT = "the bot's service account"

_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]+)?"
_URL = rf"(?:https?|wss?|tcp)://{_HOST}(?:/[^\s`'\"<>]*)?"
_AT_URL = re.compile(rf"\s+(?:at|to|on)\s+{_URL}")
_ANY_URL = re.compile(_URL)
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::[0-9]+)?(?![\w.])")
_CLUSTER_DNS = re.compile(r"(?<![\w.-])[\w-]+(?:\.[\w-]+)*\.svc(?:\.cluster\.local)?(?::[0-9]+)?")
_SA_USER = re.compile(r"\b[Uu]ser \"system:serviceaccount:[^\"]*\"")
_SA_ANY = re.compile(r"\bsystem:serviceaccounts?(?::[\w.-]+)*")


def redact(text: str) -> str:
    """``text`` without API server addresses (URLs, IPs, in-cluster DNS names) or the bot's
    Kubernetes identity."""
    text = _AT_URL.sub("", text)
    text = _ANY_URL.sub(HIDDEN_ADDRESS, text)
    text = _CLUSTER_DNS.sub(HIDDEN_ADDRESS, text)
    text = _IPV4.sub(HIDDEN_ADDRESS, text)
    text = _SA_USER.sub(BOT_IDENTITY, text)
    return _SA_ANY.sub(BOT_ACCOUNT, text)
