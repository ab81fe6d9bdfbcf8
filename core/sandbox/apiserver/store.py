"""The sandbox's etcd: in-memory objects, resourceVersions, a bounded change history, watch fan-out.

Synchronous and single-threaded (one event loop). Stored objects are immutable once stored, so
history, watches and lists share them; callers always get copies. Indexes: per namespace (the
nesting of ``_objects``), by equality label (``ray.io/cluster=x`` lists are one lookup), by uid and
by owner uid (cascading deletes). The history per resource is bounded: resuming a watch from a
resourceVersion older than what is kept raises 410 Expired, as a compacted etcd does.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from core.sandbox.apiserver import admission, deletion
from core.sandbox.apiserver.apierror import (
    ApiError as ApiError,  # re-exported: part of the contract
)
from core.sandbox.apiserver.apierror import already_exists, conflict, invalid, not_found
from core.sandbox.apiserver.changefeed import ChangeFeed
from core.sandbox.apiserver.eventlog import EventRecorder
from core.sandbox.apiserver.indexes import Indexes
from core.sandbox.apiserver.objects import (
    clone,
    clone_obj,
    format_time,
    generate_name,
    json_merge_patch,
    same_but_version,
    validate_name,
)
from core.sandbox.apiserver.resources import ResourceType, resource_type
from core.sandbox.apiserver.selectors import (
    object_matcher,
    parse_field_selector,
    parse_label_selector,
)
from core.sandbox.apiserver.watches import Change

log = logging.getLogger(__name__)


Objects = list[dict[str, Any]]  # named here: Store.list shadows the builtin in the class body
Refs = list[tuple[str, str, str]]


class Store(ChangeFeed):
    """Objects by resource; ``namespace=None`` means cluster-scoped or "all namespaces"."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        history_limit: int = 10_000,
        seed: int | None = None,
    ) -> None:
        super().__init__(history_limit)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._rng = random.Random(seed)
        self._objects: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self._indexes = Indexes()
        self._events = EventRecorder(self)
        # Mutating admission plugins run after the built-in defaults (see admission.admit).
        self.admission_plugins: list[admission.MutatingPlugin] = []
        # Pods are deleted gracefully (Terminating until a kubelet finishes them) only while a
        # simulated kubelet runs and is configured to take time (SimConfig timings.delete_grace).
        self.graceful_pods = False

    # ----------------------------------------------------------------- reads
    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def now(self) -> datetime:
        return self.clock()

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        return clone_obj(self.get_ref(resource, namespace, name))

    def get_ref(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        """The stored object itself: read-only, for the HTTP layer's serialisation."""
        rt = resource_type(resource)
        obj = self._objects.get(resource, {}).get(self._ns(rt, namespace), {}).get(name)
        if obj is None:
            raise not_found(resource, name, rt.group)
        return obj

    def encoded(self, obj: dict[str, Any]) -> bytes:
        """JSON of an object from ``get_ref``/``list_refs``, encoded once per version."""
        return self._indexes.encoded(obj)

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[Objects, str]:
        refs, rv = self.list_refs(
            resource, namespace, label_selector=label_selector, field_selector=field_selector
        )
        return [clone_obj(o) for o in refs], rv

    def list_refs(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[Objects, str]:
        """Matching stored objects (not copies) in (namespace, name) order, and the list's rv."""
        rt = resource_type(resource)
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, resource)
        match = object_matcher(labels, fields)
        by_ns = self._objects.get(resource, {})
        ns = namespace if rt.namespaced else None
        name = fields.equal_to("metadata.name")
        candidates: Iterable[dict[str, Any]]
        eq = labels.equalities()
        if name is not None and ns is not None or name is not None and not rt.namespaced:
            hit = by_ns.get(ns or "", {}).get(name)
            candidates = [hit] if hit is not None else []
        elif eq:
            keys = self._indexes.with_labels(resource, eq)
            if ns is not None:
                keys = {k for k in keys if k[0] == ns}
            candidates = [by_ns[k[0]][k[1]] for k in sorted(keys)]
        elif ns is not None:
            bucket = by_ns.get(ns, {})
            candidates = [bucket[n] for n in sorted(bucket)]
        else:
            candidates = [by_ns[n][m] for n in sorted(by_ns) for m in sorted(by_ns[n])]
        return [o for o in candidates if match(o)], str(self._rv)

    # ---------------------------------------------------------------- writes
    def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        rt = resource_type(resource)
        obj = clone_obj(obj)
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        ns = self._ns(rt, meta.get("namespace"))
        if rt.namespaced:
            if not ns:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the server could not find the requested resource: a namespace is required",
                )
            meta["namespace"] = ns
            if ns not in self._objects.get("namespaces", {}).get("", {}):
                raise not_found("namespaces", ns)
        else:
            meta.pop("namespace", None)
        if resource == "pods":  # before the name is generated, as mutating admission runs
            admission.check_service_account(self, obj)
        if not meta.get("name"):
            if not meta.get("generateName"):
                why = "Required value: name or generateName is required"
                raise invalid(rt.kind, "", [("FieldValueRequired", "metadata.name", why)], rt.group)
            bucket = self._objects.get(resource, {}).get(ns, {})
            meta["name"] = generate_name(meta["generateName"], self._rng)
            while meta["name"] in bucket:
                meta["name"] = generate_name(meta["generateName"], self._rng)
        name = meta["name"]
        validate_name(resource, rt.kind, name, rt.group)
        if name in self._objects.get(resource, {}).get(ns, {}):
            raise already_exists(resource, name, rt.group)
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        obj = admission.admit(self, rt, obj, None)
        meta = obj["metadata"]
        meta["uid"] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        meta["creationTimestamp"] = format_time(self.clock())
        if rt.generation:
            meta["generation"] = 1
        self._put(rt, ns, obj, None)
        if resource == "namespaces":
            # kube-controller-manager's serviceaccounts controller (pkg/controller/serviceaccount/
            # serviceaccounts_controller.go, syncNamespace) gives every namespace a "default"
            # ServiceAccount; it is created inline so pods can be admitted at once.
            self.create("serviceaccounts", {"metadata": {"name": "default", "namespace": name}})
        return clone_obj(obj)

    def update(
        self,
        resource: str,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Replace an object; ``dry_run`` validates and returns the result without storing it."""
        rt = resource_type(resource)
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        old = self.get_ref(resource, meta.get("namespace"), name)
        rv = meta.get("resourceVersion")
        if rv and str(rv) != old["metadata"]["resourceVersion"]:
            raise conflict(resource, name, rt.group)
        if subresource == "status":
            new = dict(old)
            new["metadata"] = dict(old["metadata"])
            if "status" in obj:
                new["status"] = clone(obj["status"])
            else:
                new.pop("status", None)
        elif subresource is None:
            new = clone_obj(obj)
            new["apiVersion"], new["kind"] = rt.api_version, rt.kind
            keep = ("uid", "creationTimestamp", "namespace", "generation", "deletionTimestamp",
                    "deletionGracePeriodSeconds")  # fmt: skip
            new_meta = new.setdefault("metadata", {})
            for field in keep:
                if field in old["metadata"]:
                    new_meta[field] = old["metadata"][field]
                else:
                    new_meta.pop(field, None)
            if rt.has_status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            new = admission.admit(self, rt, new, old)
            if rt.generation and new.get("spec") != old.get("spec"):
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        else:
            raise ApiError(
                404,
                "NotFound",
                f"the server could not find the requested resource "
                f"({subresource} subresource of {resource})",
            )
        if same_but_version(new, old):
            return clone_obj(old)  # a no-op write does not bump the resourceVersion
        if dry_run:
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            return clone_obj(new)
        self._put(rt, self._ns(rt, old["metadata"].get("namespace")), new, old)
        if old["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            # store.go shouldDeleteDuringUpdate: the last finalizer is gone -> the object goes
            deletion.collect(self, new)
        return clone_obj(new)

    def merge_patch(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        for _ in range(5):
            current = self.get_ref(resource, namespace, name)
            new = json_merge_patch(current, patch)
            new["metadata"] = dict(new.get("metadata") or {})
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            try:
                return self.update(resource, new, subresource=subresource)
            except ApiError as err:
                if err.reason != "Conflict":
                    raise
        raise conflict(resource, name, resource_type(resource).group)

    def delete(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        *,
        grace_period: int | None = None,
        propagation: str | None = None,
    ) -> dict[str, Any]:
        """A DELETE: removes the object, or marks it deleting (grace period, finalizers); the
        garbage collector then follows ``propagation`` (``deletion`` module)."""
        return deletion.delete(
            self, resource, namespace, name, grace_period=grace_period, propagation=propagation
        )

    def remove_now(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        """Remove the object for good, then let the garbage collector handle its dependents."""
        rt = resource_type(resource)
        old = self.get_ref(resource, namespace, name)
        ns = self._ns(rt, old["metadata"].get("namespace"))
        gone_obj = dict(old)
        gone_obj["metadata"] = dict(old["metadata"])
        self._remove(rt, ns, gone_obj)
        deletion.after_removal(self, gone_obj)
        if resource == "namespaces":
            for other, by_ns in list(self._objects.items()):
                for obj_name in sorted(by_ns.get(name, {})):
                    if obj_name in self._objects.get(other, {}).get(name, {}):
                        self.remove_now(other, name, obj_name)
        return clone_obj(gone_obj)

    def replace(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` as the new version of an object without admission: the registry's and
        the garbage collector's own metadata writes. Returns the stored object."""
        rt = resource_type(resource)
        meta = obj["metadata"]
        old = self.get_ref(resource, meta.get("namespace"), meta["name"])
        self._put(rt, self._ns(rt, meta.get("namespace")), obj, old)
        return obj

    def dependents_of(self, uid: str) -> Refs:
        """(resource, namespace or "", name) of the objects whose ownerReferences name ``uid``."""
        return self._indexes.dependents_of(uid)

    def find(self, ref: tuple[str, str, str]) -> dict[str, Any] | None:
        return self._objects.get(ref[0], {}).get(ref[1], {}).get(ref[2])

    def find_uid(self, uid: str) -> dict[str, Any] | None:
        ref = self._indexes.by_uid.get(uid)
        return self.find(ref) if ref is not None else None

    def record_event(
        self, involved: dict[str, Any], *, type: str, reason: str, message: str, component: str
    ) -> dict[str, Any]:
        return self._events.record(
            involved, type=type, reason=reason, message=message, component=component
        )

    def object_count(self) -> int:
        return sum(len(b) for by_ns in self._objects.values() for b in by_ns.values())

    # ------------------------------------------------------------ internals
    @staticmethod
    def _ns(rt: ResourceType, namespace: str | None) -> str:  # "" keys cluster-scoped objects
        return (namespace or "") if rt.namespaced else ""

    def _put(
        self, rt: ResourceType, ns: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        name = obj["metadata"]["name"]
        if old is not None:
            self._indexes.remove(rt.plural, ns, old)
        self._objects.setdefault(rt.plural, {}).setdefault(ns, {})[name] = obj
        self._indexes.add(rt.plural, ns, obj)
        self._emit(Change("MODIFIED" if old else "ADDED", rt.plural, obj, old, self._rv))

    def _remove(self, rt: ResourceType, ns: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        stored = self._objects[rt.plural][ns].pop(name)
        if not self._objects[rt.plural][ns]:
            del self._objects[rt.plural][ns]
        self._indexes.remove(rt.plural, ns, stored)
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._emit(Change("DELETED", rt.plural, obj, stored, self._rv))
