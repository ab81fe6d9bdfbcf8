"""Label and field selectors, parsed once per request and matched against many objects.

The grammar is the API server's: label selectors accept ``k=v``, ``k==v``, ``k!=v``,
``k in (a,b)``, ``k notin (a,b)``, ``k`` and ``!k``; field selectors accept ``f=v``, ``f==v`` and
``f!=v`` over a per-resource set of supported fields (anything else is a 400, as on a real server).
Equality requirements are exposed so the store can answer from its label index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.sandbox.apiserver.apierror import ApiError

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SET_EXPR = re.compile(r"^\s*(!?)\s*([^\s!=()]+)\s*(?:(in|notin)\s*\(([^)]*)\)\s*)?$")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def equalities(self) -> list[tuple[str, str]]:
        """(key, value) pairs every match must carry: candidates for an index lookup."""
        return [
            (r.key, next(iter(r.values)))
            for r in self.requirements
            if r.op in ("=", "in") and len(r.values) == 1
        ]

    @property
    def empty(self) -> bool:
        return not self.requirements


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in (p.strip() for p in parts) if p]


def _bad_selector(text: str, why: str) -> ApiError:
    return ApiError(400, "BadRequest", f"unable to parse requirement: {why}: {text!r}")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a label selector; raise a 400 ``ApiError`` with the server's wording on bad input."""
    if not text or not text.strip():
        return LabelSelector(())
    reqs: list[Requirement] = []
    for part in _split_top_level(text):
        for op in ("!=", "==", "="):
            if op in part and "(" not in part:
                key, _, value = part.partition(op)
                key, value = key.strip(), value.strip()
                if not key or not _LABEL_VALUE.fullmatch(value):
                    raise _bad_selector(part, "invalid label value")
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", frozenset([value])))
                break
        else:
            m = _SET_EXPR.fullmatch(part)
            if not m:
                raise _bad_selector(part, "found unexpected token")
            bang, key, set_op, raw_values = m.groups()
            if set_op:
                if bang:
                    raise _bad_selector(part, "found '!' before a set operator")
                values = frozenset(v.strip() for v in raw_values.split(",") if v.strip())
                reqs.append(Requirement(key, set_op, values))
            else:
                reqs.append(Requirement(key, "!" if bang else "exists", frozenset()))
    return LabelSelector(tuple(reqs))


# Fields each resource can be selected on (metadata.name/namespace are always allowed).
FIELD_LABELS: dict[str, frozenset[str]] = {
    "pods": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "events": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    "secrets": frozenset({"type"}),
    "namespaces": frozenset({"status.phase"}),
}


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    if path == "source":
        return str((obj.get("source") or {}).get("component") or "")
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...]  # (path, equal?, value)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((_field_value(obj, p) == v) == eq for p, eq, v in self.terms)

    def equal_to(self, path: str) -> str | None:
        return next((v for p, eq, v in self.terms if p == path and eq), None)

    @property
    def empty(self) -> bool:
        return not self.terms


def parse_field_selector(text: str | None, resource: str) -> FieldSelector:
    """Parse a field selector; unsupported fields are refused like a real server does."""
    if not text or not text.strip():
        return FieldSelector(())
    allowed = FIELD_LABELS.get(resource, frozenset()) | {"metadata.name", "metadata.namespace"}
    terms: list[tuple[str, bool, str]] = []
    for part in _split_top_level(text):
        for op in ("!=", "==", "="):
            if op in part:
                path, _, value = part.partition(op)
                path, value = path.strip(), value.strip()
                break
        else:
            raise ApiError(
                400, "BadRequest", f"invalid selector: '{text}'; can't understand '{part}'"
            )
        if path not in allowed:
            raise ApiError(400, "BadRequest", f'field label not supported: "{path}"')
        terms.append((path, op != "!=", value))
    return FieldSelector(tuple(terms))


Matcher = Callable[[Mapping[str, Any]], bool]


def object_matcher(label: LabelSelector, field: FieldSelector) -> Matcher:
    """One predicate for an object that checks both selectors."""

    def match(obj: Mapping[str, Any]) -> bool:
        if not label.empty and not label.matches(obj.get("metadata", {}).get("labels")):
            return False
        return field.empty or field.matches(obj)

    return match
