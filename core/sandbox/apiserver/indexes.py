"""Derived data the store keeps in step with its objects: indexes and each object's JSON.

``ray.io/cluster=x`` lists become one set lookup instead of a scan of every pod, a cascading
delete finds an owner's dependents without looking at unrelated objects, and a large list is
answered by joining cached JSON encodings (10k pods: ~70 ms instead of ~1 s of ``json.dumps``).
"""

from __future__ import annotations

import json
from typing import Any

Key = tuple[str, str]  # (namespace or "", name)
Ref = tuple[str, str, str]  # (resource, namespace or "", name)


class Indexes:
    def __init__(self) -> None:
        self.labels: dict[str, dict[tuple[str, str], set[Key]]] = {}
        self.by_uid: dict[str, Ref] = {}
        self.dependents: dict[str, set[Ref]] = {}
        self._json: dict[int, bytes | None] = {}  # id of each stored object -> its encoding

    def add(self, resource: str, ns: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self._json[id(obj)] = None
        key = (ns, meta["name"])
        index = self.labels.setdefault(resource, {})
        for pair in (meta.get("labels") or {}).items():
            index.setdefault(pair, set()).add(key)
        if meta.get("uid"):
            self.by_uid[meta["uid"]] = (resource, ns, meta["name"])
        for ref in meta.get("ownerReferences") or ():
            self.dependents.setdefault(ref.get("uid", ""), set()).add((resource, *key))

    def remove(self, resource: str, ns: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self._json.pop(id(obj), None)
        key = (ns, meta["name"])
        index = self.labels.get(resource, {})
        for pair in (meta.get("labels") or {}).items():
            keys = index.get(pair)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[pair]
        self.by_uid.pop(meta.get("uid", ""), None)
        for ref in meta.get("ownerReferences") or ():
            owner = ref.get("uid", "")
            deps = self.dependents.get(owner)
            if deps is not None:
                deps.discard((resource, *key))
                if not deps:
                    del self.dependents[owner]

    def with_labels(self, resource: str, pairs: list[tuple[str, str]]) -> set[Key]:
        """Keys carrying the rarest of ``pairs`` (a superset of the matches; filter after)."""
        index = self.labels.get(resource, {})
        return min((index.get(pair, set()) for pair in pairs), key=len)

    def dependents_of(self, uid: str) -> list[Ref]:
        return sorted(self.dependents.get(uid, set()))

    def encoded(self, obj: dict[str, Any]) -> bytes:
        """Compact JSON of ``obj``, cached while ``obj`` is the stored version (never mutated)."""
        key = id(obj)
        if key not in self._json:
            return json.dumps(obj, separators=(",", ":")).encode()  # not a stored object
        cached = self._json[key]
        if cached is None:
            cached = self._json[key] = json.dumps(obj, separators=(",", ":")).encode()
        return cached
