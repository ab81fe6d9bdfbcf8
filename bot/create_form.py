"""`/krayne create` with no arguments: a modal form, validated exactly like the command.

The form's fields are the create flags; its submission becomes the same ``CreateOptions`` the
grammar builds, so ``config_for`` (and the policy, and the TTL bounds) judge both alike. A bad
field is answered inline, next to the field (``response_action: errors`` keyed by block id,
https://docs.slack.dev/surfaces/modals#displaying_errors), and nothing is created.
Pure: views in, views and options out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot import messages as msg
from bot.create_options import CreateOptions
from bot.grammar import CreateCommand, config_for
from core.config import ClusterConfig, name_problem
from core.errors import ConfigValidationError, echo
from core.ttl import parse_duration

CREATE_FORM = "krayne_create_form"
_ACTION = "value"
SERVICES = (("notebook", "Jupyter notebook"), ("code_server", "VS Code (code-server)"),
            ("ssh", "SSH"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Field:
    block_id: str
    label: str
    example: str
    optional: bool = True
    hint: str = ""


FIELDS = (
    Field("name", "Cluster name", "my-cluster", optional=False,
          hint="lowercase letters, digits and '-', starting with a letter"),
    Field("workers", "Workers", "1", hint="how many worker pods (default: autoscaling from 0)"),
    Field("gpus", "GPUs per worker", "1"),
    Field("gpu_type", "GPU type", "nvidia-l4"),
    Field("cpus", "CPUs per worker", "4"),
    Field("memory", "Memory per worker", "16Gi"),
    Field("image", "Image", "rayproject/ray:2.60.0-py312"),
    Field("ttl", "Time to live", "8h", hint="e.g. 30m, 8h, 2d: then it is suspended"),
)  # fmt: skip
_INTS = ("workers", "gpus")


def form_view(*, channel: str, namespace: str) -> dict[str, Any]:
    """The modal; ``private_metadata`` remembers where the card goes."""
    blocks: list[dict[str, Any]] = []
    for field in FIELDS:
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": _ACTION,
            "placeholder": {"type": "plain_text", "text": f"e.g. {field.example}"},
        }
        block: dict[str, Any] = {
            "type": "input",
            "block_id": field.block_id,
            "optional": field.optional,
            "label": {"type": "plain_text", "text": field.label},
            "element": element,
        }
        if field.hint:
            block["hint"] = {"type": "plain_text", "text": field.hint}
        blocks.append(block)
    options = [
        {"text": {"type": "plain_text", "text": label}, "value": key} for key, label in SERVICES
    ]
    blocks.append(
        {
            "type": "input",
            "block_id": "services",
            "optional": True,
            "label": {"type": "plain_text", "text": "Services on the head"},
            "element": {
                "type": "checkboxes",
                "action_id": _ACTION,
                "options": options,
                "initial_options": options,
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": CREATE_FORM,
        "title": {"type": "plain_text", "text": "New Ray cluster"},
        "submit": {"type": "plain_text", "text": "Create"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"channel": channel, "namespace": namespace}),
        "blocks": blocks,
    }


@dataclass(frozen=True, slots=True)
class Submission:
    name: str
    options: CreateOptions
    channel: str
    namespace: str


def where(view: dict[str, Any]) -> tuple[str, str]:
    """(channel, namespace) the form was opened for."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    return str(meta.get("channel") or ""), str(meta.get("namespace") or "")


def read(view: dict[str, Any]) -> tuple[Submission | None, dict[str, str]]:
    """The submission, or the inline errors (block id -> one line saying what to type)."""
    values = (view.get("state") or {}).get("values") or {}

    def text(block_id: str) -> str:
        raw = ((values.get(block_id) or {}).get(_ACTION) or {}).get("value")
        return raw.strip() if isinstance(raw, str) else ""

    errors: dict[str, str] = {}
    name = text("name")
    problem = name_problem(name) if name else "a cluster needs a name, e.g. my-cluster"
    if problem:
        errors["name"] = problem
    given: dict[str, Any] = {}
    for field in FIELDS[1:]:
        value = text(field.block_id)
        if not value:
            continue
        if field.block_id in _INTS:
            if not value.isdigit() or len(value) > 6:
                whole = f"{echo(value)} is not a whole number: e.g. {field.example}"
                errors[field.block_id] = whole
                continue
            given[field.block_id] = int(value)
        else:
            given[field.block_id] = value
    if "ttl" in given:
        try:
            parse_duration(given["ttl"])
        except ValueError as err:
            errors["ttl"] = str(err)
    picked = (values.get("services") or {}).get(_ACTION) or {}
    if picked:  # absent when the block was not sent back: keep the defaults
        chosen = {o.get("value") for o in picked.get("selected_options") or []}
        given |= {key: key in chosen for key, _label in SERVICES}
    channel, namespace = where(view)
    if errors:
        return None, errors
    return Submission(name, CreateOptions(**given), channel, namespace), {}


def configure(submission: Submission) -> tuple[ClusterConfig | None, dict[str, str]]:
    """The ClusterConfig, or each problem next to the field it is about."""
    cmd = CreateCommand(submission.name, submission.namespace, submission.options)
    try:
        return config_for(cmd, namespace=submission.namespace), {}
    except ConfigValidationError as err:
        return None, field_errors(err)


_KEYWORDS = (
    ("gpu_type", "gpu_type"), ("gpus", "gpus"), ("replicas", "workers"), ("cpus", "cpus"),
    ("memory", "memory"), ("image", "image"), ("name", "name"),
)  # fmt: skip


def field_errors(err: ConfigValidationError) -> dict[str, str]:
    """Each problem on the field it names; anything else on the name field (always shown)."""
    found: dict[str, list[str]] = {}
    for line in err.problems:
        block = next((b for word, b in _KEYWORDS if word in line), "name")
        found.setdefault(block, []).append(line)
    return {block: msg.clip_line("; ".join(lines)) for block, lines in found.items()}
