"""A modal form in the terminal: one prompt per input field, then a signed view submission.

When the bot opens a form (``views.open`` on the Slack double), the shell asks for each input
block in turn; the lines the user types next are the answers (empty keeps the field empty, or
the checkboxes as they are). The submission goes to the bot exactly as Slack would send it; a
``response_action: errors`` answer is shown next to the fields and only those are asked again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Submit = Callable[[dict[str, Any], dict[str, Any]], Awaitable[tuple[int, bytes]]]


@dataclass
class FormFill:
    """The form being filled in; ``answer`` takes one typed line."""

    view: dict[str, Any]
    write: Callable[[str], None]
    submit: Submit
    values: dict[str, Any] = field(default_factory=dict)
    asking: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False

    def __post_init__(self) -> None:
        title = (self.view.get("title") or {}).get("text", "a form")
        self.asking = [b for b in self.view.get("blocks", []) if b.get("type") == "input"]
        self.write(f"(a form opened: {title}; answer each field, an empty line skips it)")
        self._ask()

    def _ask(self) -> None:
        block = self.asking[0]
        label = (block.get("label") or {}).get("text", block.get("block_id", "?"))
        element = block.get("element") or {}
        if element.get("type") == "checkboxes":
            choices = ", ".join(o["value"] for o in element.get("options", []))
            self.write(f"  {label} — any of: {choices} (comma-separated; empty keeps all)")
            return
        example = (element.get("placeholder") or {}).get("text", "")
        optional = "" if not block.get("optional", False) else ", optional"
        self.write(f"  {label} ({example}{optional}):")

    async def answer(self, line: str) -> None:
        block = self.asking.pop(0)
        text = line.strip()
        if (block.get("element") or {}).get("type") == "checkboxes":
            if text:
                self.values[block["block_id"]] = [v.strip() for v in text.split(",") if v.strip()]
        else:
            self.values[block["block_id"]] = text
        if self.asking:
            self._ask()
            return
        status, raw = await self.submit(self.view, self.values)
        errors = _errors(raw) if status == 200 else {}
        if status != 200:
            self.write(f"(the bot answered HTTP {status}; the form stays open)")
        if not errors:
            self.done = status == 200
            if self.done:
                self.write("(form submitted)")
            return
        for block_id, problem in errors.items():
            self.write(f"  ✗ {block_id}: {problem}")
        self.asking = [
            b for b in self.view.get("blocks", []) if b.get("block_id") in errors
        ]
        self._ask()


def _errors(raw: bytes) -> dict[str, str]:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    if not isinstance(body, dict) or body.get("response_action") != "errors":
        return {}
    return {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
