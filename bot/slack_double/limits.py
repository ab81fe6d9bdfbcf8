"""Block Kit validation with Slack's documented limits, for the Slack double.

Slack rejects a bad message with ``invalid_blocks`` (chat.*) or ``invalid_arguments`` (views.*)
and lists what is wrong in ``response_metadata.messages``, one line per problem, in the form
``[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]``. This module
produces the same lines so a renderer that overflows a limit fails in tests exactly as it would
against Slack. Limits are from the Block Kit reference (docs.slack.dev/reference/block-kit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Surface = Literal["message", "home", "modal"]

MAX_BLOCKS = {"message": 50, "home": 100, "modal": 100}
MESSAGE_TEXT_LIMIT = 40_000
"""chat.postMessage ``text``: longer messages are refused with ``msg_too_long``."""
BLOCKS_TEXT_LIMIT = 13_000
"""Total text across a message's blocks. Undocumented: Slack answers ``msg_blocks_too_long``
somewhere around 13,200 characters (slackapi/bolt-js#2509), below the 50-block limit."""

SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
MARKDOWN_BLOCK_TEXT = 12_000
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BLOCK_ID = 255
ACTION_ID = 255
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
URL = 3000
ALT_TEXT = 2000
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
MODAL_TITLE = 24
PRIVATE_METADATA = 3000

_TEXT_TYPES = ("plain_text", "mrkdwn")
# fmt: off
_INTERACTIVE = frozenset({
    "button", "static_select", "external_select", "users_select", "conversations_select",
    "channels_select", "multi_static_select", "multi_users_select", "multi_conversations_select",
    "multi_channels_select", "multi_external_select", "overflow", "datepicker", "timepicker",
    "datetimepicker", "checkboxes", "radio_buttons", "plain_text_input", "rich_text_input",
    "email_text_input", "url_text_input", "number_input", "workflow_button",
})
# fmt: on


class _Checker:
    """Walks one list of blocks and collects Slack-style problem lines."""

    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self.problems: list[str] = []
        self.text_chars = 0

    def err(self, message: str, pointer: str) -> None:
        self.problems.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def length(self, value: Any, pointer: str, *, maximum: int, minimum: int = 1) -> None:
        if not isinstance(value, str):
            self.err("must provide a string", pointer)
        elif len(value) < minimum:
            self.err(f"must be more than {minimum - 1} characters", pointer)
        elif len(value) > maximum:
            self.err(f"must be less than {maximum + 1} characters", pointer)

    def unique_id(self, value: Any, pointer: str, seen: set[str], *, maximum: int) -> None:
        """A block_id or action_id: bounded in length, and unique within its message/block."""
        self.length(value, pointer, maximum=maximum)
        if not isinstance(value, str):
            return  # already reported; an unhashable value cannot be tracked
        if value in seen:
            self.err(f"duplicate {pointer.rsplit('/', 1)[-1]}", pointer)
        seen.add(value)

    def text(
        self, obj: Any, pointer: str, *, maximum: int, plain_only: bool = False, minimum: int = 1
    ) -> None:
        if not isinstance(obj, Mapping):
            self.err("must provide an object", pointer)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else _TEXT_TYPES
        if kind not in allowed:
            self.err(f"must be one of: {', '.join(allowed)}", f"{pointer}/type")
            return
        if kind == "mrkdwn" and "emoji" in obj:
            self.err("emoji is only allowed for plain_text", f"{pointer}/emoji")
        if kind == "plain_text" and "verbatim" in obj:
            self.err("verbatim is only allowed for mrkdwn", f"{pointer}/verbatim")
        self.length(obj.get("text"), f"{pointer}/text", maximum=maximum, minimum=minimum)
        if isinstance(obj.get("text"), str):
            self.text_chars += len(obj["text"])

    def blocks(self, blocks: Any, pointer: str = "/blocks") -> None:
        if not isinstance(blocks, list):
            self.err("must provide an array", pointer)
            return
        limit = MAX_BLOCKS[self.surface]
        if len(blocks) > limit:
            self.err(f"no more than {limit} items allowed", pointer)
        seen: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(block, f"{pointer}/{i}", seen)

    def block(self, block: Any, pointer: str, seen_ids: set[str]) -> None:
        if not isinstance(block, Mapping):
            self.err("must provide an object", pointer)
            return
        block_id = block.get("block_id")
        if block_id is not None:
            self.unique_id(block_id, f"{pointer}/block_id", seen_ids, maximum=BLOCK_ID)
        kind = block.get("type")
        check = getattr(self, f"block_{kind}", None) if isinstance(kind, str) else None
        if check is None:
            self.err("must be a valid enum value", f"{pointer}/type")
            return
        check(block, pointer)

    def block_section(self, block: Mapping[str, Any], pointer: str) -> None:
        if "text" not in block and "fields" not in block:
            self.err("must provide either text or fields", pointer)
        if "text" in block:
            self.text(block["text"], f"{pointer}/text", maximum=SECTION_TEXT)
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list) or not fields:
                self.err("must provide a non-empty array", f"{pointer}/fields")
            else:
                if len(fields) > MAX_FIELDS:
                    self.err(f"no more than {MAX_FIELDS} items allowed", f"{pointer}/fields")
                for i, field in enumerate(fields):
                    self.text(field, f"{pointer}/fields/{i}", maximum=FIELD_TEXT)
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory", set())

    def block_header(self, block: Mapping[str, Any], pointer: str) -> None:
        self.text(block.get("text"), f"{pointer}/text", maximum=HEADER_TEXT, plain_only=True)

    def block_divider(self, block: Mapping[str, Any], pointer: str) -> None:
        del block, pointer

    def block_markdown(self, block: Mapping[str, Any], pointer: str) -> None:
        self.length(block.get("text"), f"{pointer}/text", maximum=MARKDOWN_BLOCK_TEXT)
        if isinstance(block.get("text"), str):
            self.text_chars += len(block["text"])

    def block_context(self, block: Mapping[str, Any], pointer: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.err("must provide a non-empty array", f"{pointer}/elements")
            return
        if len(elements) > CONTEXT_ELEMENTS:
            self.err(f"no more than {CONTEXT_ELEMENTS} items allowed", f"{pointer}/elements")
        for i, element in enumerate(elements):
            where = f"{pointer}/elements/{i}"
            if isinstance(element, Mapping) and element.get("type") == "image":
                self.image(element, where)
            else:
                self.text(element, where, maximum=SECTION_TEXT)

    def block_actions(self, block: Mapping[str, Any], pointer: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.err("must provide a non-empty array", f"{pointer}/elements")
            return
        if len(elements) > ACTIONS_ELEMENTS:
            self.err(f"no more than {ACTIONS_ELEMENTS} items allowed", f"{pointer}/elements")
        action_ids: set[str] = set()
        for i, element in enumerate(elements):
            self.element(element, f"{pointer}/elements/{i}", action_ids)

    def block_image(self, block: Mapping[str, Any], pointer: str) -> None:
        self.image(block, pointer)
        if "title" in block:
            self.text(block["title"], f"{pointer}/title", maximum=2000, plain_only=True)

    def block_rich_text(self, block: Mapping[str, Any], pointer: str) -> None:
        if not isinstance(block.get("elements"), list):
            self.err("must provide an array", f"{pointer}/elements")

    def block_input(self, block: Mapping[str, Any], pointer: str) -> None:
        if self.surface == "message":
            self.err("input blocks are not supported in messages", f"{pointer}/type")
            return
        self.text(block.get("label"), f"{pointer}/label", maximum=2000, plain_only=True)
        self.element(block.get("element"), f"{pointer}/element", set())

    def image(self, element: Mapping[str, Any], pointer: str) -> None:
        if "image_url" not in element and "slack_file" not in element:
            self.err("must provide image_url or slack_file", pointer)
        if "image_url" in element:
            self.length(element["image_url"], f"{pointer}/image_url", maximum=URL)
        self.length(element.get("alt_text"), f"{pointer}/alt_text", maximum=ALT_TEXT)

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(element, Mapping):
            self.err("must provide an object", pointer)
            return
        kind = element.get("type")
        if kind == "image":
            self.image(element, pointer)
            return
        if kind not in _INTERACTIVE:
            self.err("must be a valid enum value", f"{pointer}/type")
            return
        action_id = element.get("action_id")
        if action_id is not None:
            self.unique_id(action_id, f"{pointer}/action_id", action_ids, maximum=ACTION_ID)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{pointer}/confirm")
        if kind == "button":
            self.button(element, pointer)

    def button(self, element: Mapping[str, Any], pointer: str) -> None:
        self.text(element.get("text"), f"{pointer}/text", maximum=BUTTON_TEXT, plain_only=True)
        if "value" in element:
            self.length(element["value"], f"{pointer}/value", maximum=BUTTON_VALUE)
        if "url" in element:
            self.length(element["url"], f"{pointer}/url", maximum=URL)
        if "style" in element and element["style"] not in ("primary", "danger"):
            self.err("must be one of: primary, danger", f"{pointer}/style")

    def confirm(self, obj: Any, pointer: str) -> None:
        if not isinstance(obj, Mapping):
            self.err("must provide an object", pointer)
            return
        self.text(obj.get("title"), f"{pointer}/title", maximum=CONFIRM_TITLE, plain_only=True)
        self.text(obj.get("text"), f"{pointer}/text", maximum=CONFIRM_TEXT)
        for key in ("confirm", "deny"):
            self.text(obj.get(key), f"{pointer}/{key}", maximum=CONFIRM_BUTTON, plain_only=True)


def validate_blocks(blocks: Any, *, surface: Surface = "message") -> tuple[list[str], int]:
    """Return (problem lines, total text characters) for ``blocks`` shown on ``surface``."""
    checker = _Checker(surface)
    checker.blocks(blocks)
    return checker.problems, checker.text_chars


def validate_view(view: Any) -> list[str]:
    """Problems with a ``views.publish``/``views.open`` payload (type, title, blocks, metadata)."""
    checker = _Checker("modal")
    if not isinstance(view, Mapping):
        checker.err("must provide an object", "/view")
        return checker.problems
    kind = view.get("type")
    if kind not in ("home", "modal"):
        checker.err("must be one of: home, modal", "/view/type")
        return checker.problems
    checker.surface = "home" if kind == "home" else "modal"
    if kind == "modal":
        checker.text(view.get("title"), "/view/title", maximum=MODAL_TITLE, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                checker.text(view[key], f"/view/{key}", maximum=MODAL_TITLE, plain_only=True)
    if "private_metadata" in view:
        checker.length(
            view["private_metadata"], "/view/private_metadata", maximum=PRIVATE_METADATA, minimum=0
        )
    if "callback_id" in view:
        checker.length(view["callback_id"], "/view/callback_id", maximum=255)
    checker.blocks(view.get("blocks"), "/view/blocks")
    return checker.problems
