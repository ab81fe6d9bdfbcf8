"""Read a cluster YAML file strictly: safe, duplicate keys refused, every problem one line.

PyYAML keeps the last of two equal keys without a word; a cluster file with ``gpus`` twice is a
mistake we report. The C loader is used when PyYAML has it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigValidationError


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML that refuses duplicate keys (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def load_yaml_mapping(path: str | Path, *, example: str = "name: my-cluster") -> dict[str, Any]:
    """Read a cluster YAML file as a mapping (an empty file is ``{}``); problems as lines."""
    file = Path(path)
    shown = repr(str(file))
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigValidationError([f"file {shown} was not found"]) from None
    except IsADirectoryError:
        raise ConfigValidationError([f"{shown} is a directory, not a YAML file"]) from None
    except UnicodeDecodeError:
        raise ConfigValidationError([f"file {shown} is not UTF-8 text"]) from None
    except OSError as err:
        raise ConfigValidationError([f"file {shown} cannot be read: {err.strerror}"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        problem = getattr(err, "problem", None) or getattr(err, "context", None) or "syntax error"
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigValidationError([f"file {shown} is not valid YAML: {problem}{where}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigValidationError(
            [
                f"file {shown} must hold a mapping such as `{example}`, got a"
                f" {type(data).__name__}"
            ]
        )
    return data
