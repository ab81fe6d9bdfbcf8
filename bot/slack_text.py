"""Undo what Slack and autocorrect do to typed text, before the `/krayne` grammar splits it.

macOS/iOS turn ``--`` into an em dash (and ``-`` before a letter into an en dash) and quotes into
smart quotes; Slack escapes ``& < >`` as entities and wraps mentions, channels and anything that
looks like a link or an e-mail address in ``<target|label>`` markup. Pure string functions.
"""

from __future__ import annotations

import re

_SLACK_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_DASH_START = re.compile(r"(^|\s)[\u2014\u2013\u2012\u2015\u2212]+-*(\S*)")
_QUOTES = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
     "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u00a0": " ", "\u2007": " ",
     "\u202f": " ", "\u200b": None, "\u2060": None, "\ufeff": None}
)  # fmt: skip


def _unwrap(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target[:1] in ("@", "#"):  # <@U123|name> user, <#C123|general> channel
        return target[0] + (label or target[1:])
    if target[:1] == "!":  # <!here>, <!subteam^S1|@team>
        return label or "@" + target[1:].split("^")[0]
    if label:  # <http://docker.io/x|docker.io/x>: what the user typed is the label
        return label
    return target.removeprefix("mailto:")


def _dash(match: re.Match[str]) -> str:
    word = match.group(2)
    # "—n" was "-n" or "--n"; "—gpus" was "--gpus"
    return match.group(1) + ("-" if len(word) == 1 else "--") + word


def normalize_slack_text(text: str) -> str:
    """Undo Slack's and autocorrect's changes: links, mentions, entities, dashes, quotes."""
    text = _SLACK_MARKUP.sub(_unwrap, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = text.translate(_QUOTES)
    return _DASH_START.sub(_dash, text).strip()
