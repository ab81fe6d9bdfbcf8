"""Pure Block Kit renderers: status card, thread replies, list table, describe, confirm, App
Home, modal — and the one place untrusted text is escaped (``kit.escape``, ``kit.fence``).

``kit`` holds the primitives within Slack's limits, ``threads`` the card and thread replies,
``overviews`` what a user asks to see (list, describe, confirm, App Home).
"""

from bot.blocks.kit import (
    DELETE,
    DELETE_CANCEL,
    DELETE_CONFIRM,
    DESCRIBE,
    MAX_BLOCKS,
    RESUME,
    SCALE_DOWN,
    SCALE_UP,
    TTL_EXTEND,
    Blocks,
    age,
    clip,
    code_blocks,
    escape,
    expires_cell,
    fence,
    modal,
    parse_ref,
    ref_value,
    suspended_note,
    text_blocks,
    ttl_reminder,
)
from bot.blocks.overviews import (
    LIST_COLUMNS,
    app_home,
    cluster_table,
    cluster_table_text,
    delete_confirm,
    describe,
)
from bot.blocks.threads import card, card_text, status_reply, thread_reply, who

__all__ = [
    "DELETE", "DELETE_CANCEL", "DELETE_CONFIRM", "DESCRIBE", "LIST_COLUMNS", "MAX_BLOCKS",
    "RESUME", "SCALE_DOWN", "SCALE_UP", "TTL_EXTEND", "Blocks", "expires_cell", "suspended_note",
    "ttl_reminder", "age", "app_home", "card", "card_text", "clip",
    "cluster_table", "cluster_table_text", "code_blocks", "delete_confirm", "describe",
    "escape", "fence", "modal", "parse_ref", "ref_value", "status_reply", "text_blocks",
    "thread_reply", "who",
]  # fmt: skip
