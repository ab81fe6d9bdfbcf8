"""Deletes that take time: graceful pod deletion, finalizers and the garbage collector's policies.

A real DELETE seldom removes an object at once. The registry (apiserver/pkg/registry/generic/
registry/store.go, ``Store.Delete`` and ``updateForGracefulDeletionAndFinalizers``) marks it with
``deletionTimestamp`` when it has finalizers or a grace period, and the garbage collector
(kubernetes pkg/controller/garbagecollector/garbagecollector.go) honours ``propagationPolicy``:
Background removes the owner and then deletes its dependents, Foreground keeps the owner with the
``foregroundDeletion`` finalizer until the dependents that block it are gone, Orphan strips the
owner's references from its dependents and keeps them. The collector runs inline here, right after
the change that triggers it, so a test or kubectl sees the same end states without a resync.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.objects import clone_obj, format_time

if TYPE_CHECKING:
    from core.sandbox.apiserver.store import Store

Obj = dict[str, Any]
ORPHAN = "orphan"  # metav1.FinalizerOrphanDependents
FOREGROUND = "foregroundDeletion"  # metav1.FinalizerDeleteDependents
POLICIES = ("Foreground", "Background", "Orphan")


def check_policy(policy: str | None) -> None:
    """DeleteOptions validation (apimachinery meta/v1/validation, ValidateDeleteOptions)."""
    if policy is not None and policy not in POLICIES:
        raise ApiError(
            422,
            "Invalid",
            f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
            f'"{policy}": supported values: "Foreground", "Background", "Orphan"',
        )


def delete_options(query: Mapping[str, str], body: Any) -> tuple[int | None, str | None]:
    """DeleteOptions from the body (kubectl) or the query: gracePeriodSeconds and the
    propagation policy, with the deprecated ``orphanDependents`` mapped onto it."""
    options = body if isinstance(body, dict) else {}
    raw_grace = options.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
    grace: int | None = None
    if raw_grace is not None:
        try:
            grace = int(raw_grace)
        except (TypeError, ValueError):
            raise ApiError(
                400, "BadRequest", f"invalid gracePeriodSeconds: {raw_grace!r}"
            ) from None
    policy = options.get("propagationPolicy") or query.get("propagationPolicy") or None
    orphan = options.get("orphanDependents", query.get("orphanDependents"))
    if orphan is not None and policy is None:
        policy = "Orphan" if str(orphan).lower() == "true" else "Background"
    return grace, policy


def grace_seconds(store: Store, resource: str, obj: Obj, requested: int | None) -> int:
    """``rest.BeforeDelete`` with the pod strategy's ``CheckGracefulDelete``
    (pkg/registry/core/pod/strategy.go): the request's grace period or the pod's
    terminationGracePeriodSeconds, but 0 for pods no kubelet runs (unscheduled) or that have
    finished (Failed/Succeeded). Only pods are graceful, and only while a simulated kubelet is
    there to finish them (``store.graceful_pods``)."""
    if resource != "pods" or not store.graceful_pods:
        return 0
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Failed", "Succeeded"):
        return 0
    if requested is not None:
        return max(0, requested)
    return int(spec.get("terminationGracePeriodSeconds", 30))


def _finalizers_for(policy: str | None, finalizers: list[str]) -> list[str]:
    """store.go ``deletionFinalizersForGarbageCollection``: the policy's finalizer replaces the
    other one; Background removes both. No policy keeps what the object already has."""
    if policy is None:
        return finalizers
    kept = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
    if policy == "Orphan":
        return [*kept, ORPHAN]
    if policy == "Foreground":
        return [*kept, FOREGROUND]
    return kept


def delete(
    store: Store,
    resource: str,
    namespace: str | None,
    name: str,
    *,
    grace_period: int | None = None,
    propagation: str | None = None,
) -> Obj:
    """One DELETE: remove now, or mark as deleting; returns the object as the API returns it."""
    check_policy(propagation)
    current = store.get_ref(resource, namespace, name)
    meta = current["metadata"]
    finalizers = _finalizers_for(propagation, list(meta.get("finalizers") or []))
    if meta.get("deletionTimestamp"):
        # updateForGracefulDeletionAndFinalizers on an object already being deleted: a shorter
        # grace period (kubectl delete --grace-period=0 --force) or a policy change applies.
        if grace_period == 0 and not finalizers:
            return store.remove_now(resource, namespace, name)
        if finalizers != list(meta.get("finalizers") or []):
            current = _rewrite(store, resource, current, finalizers=finalizers)
            collect(store, current)
        return clone_obj(current)
    grace = grace_seconds(store, resource, current, grace_period)
    if not finalizers and grace == 0:
        return store.remove_now(resource, namespace, name)
    when = store.now() + timedelta(seconds=grace)
    marked = _rewrite(
        store,
        resource,
        current,
        finalizers=finalizers,
        deletionTimestamp=format_time(when),
        deletionGracePeriodSeconds=grace,
    )
    collect(store, marked)
    return clone_obj(store.get_ref(resource, namespace, name) if _exists(store, marked) else marked)


def _exists(store: Store, obj: Obj) -> bool:
    meta = obj["metadata"]
    try:
        found = store.get_ref(obj_resource(obj), meta.get("namespace"), meta["name"])
    except ApiError:
        return False
    return bool(found["metadata"].get("uid") == meta.get("uid"))


def obj_resource(obj: Obj) -> str:
    from core.sandbox.apiserver.resources import RESOURCES

    for rt in RESOURCES.values():
        if rt.kind == obj.get("kind") and rt.api_version == obj.get("apiVersion"):
            return rt.plural
    raise KeyError(f"no resource for {obj.get('apiVersion')}/{obj.get('kind')}")


def _rewrite(store: Store, resource: str, obj: Obj, **metadata: Any) -> Obj:
    new = clone_obj(obj)
    for key, value in metadata.items():
        if value:
            new["metadata"][key] = value
        elif key == "deletionGracePeriodSeconds":
            new["metadata"][key] = value  # 0 is meaningful: no kubelet to wait for
        else:
            new["metadata"].pop(key, None)
    return store.replace(resource, new)


# ------------------------------------------------------------------ garbage collector
def collect(store: Store, owner: Obj) -> None:
    """``attemptToDeleteItem`` / ``processDeletingDependentsItem`` / ``orphanDependents`` for an
    owner that is being deleted; an owner without finalizers left and no grace period goes."""
    meta = owner["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    uid = meta.get("uid", "")
    if ORPHAN in finalizers:
        for ref in store.dependents_of(uid):
            dependent = store.find(ref)
            if dependent is not None:
                refs = [r for r in dependent["metadata"].get("ownerReferences") or ()
                        if r.get("uid") != uid]  # fmt: skip
                _rewrite(store, ref[0], dependent, ownerReferences=refs)
        finalizers.remove(ORPHAN)
        owner = _rewrite(store, obj_resource(owner), owner, finalizers=finalizers)
    if FOREGROUND in finalizers:
        for ref in store.dependents_of(uid):
            dependent = store.find(ref)
            if dependent is not None and not dependent["metadata"].get("deletionTimestamp"):
                # a dependent with dependents of its own is deleted in the foreground too
                policy = "Foreground" if store.dependents_of(dependent_uid(dependent)) else None
                delete(store, ref[0], ref[1] or None, ref[2], propagation=policy or "Background")
        if _exists(store, owner):
            owner = store.get_ref(obj_resource(owner), meta.get("namespace"), meta["name"])
            release_if_unblocked(store, owner)
            return
    if _exists(store, owner):
        owner = store.get_ref(obj_resource(owner), meta.get("namespace"), meta["name"])
        _remove_if_done(store, owner)


def dependent_uid(obj: Obj) -> str:
    return str(obj["metadata"].get("uid", ""))


def release_if_unblocked(store: Store, owner: Obj) -> None:
    """processDeletingDependentsItem: once no dependent with ``blockOwnerDeletion`` is left, the
    ``foregroundDeletion`` finalizer is removed and the owner goes."""
    uid = owner["metadata"].get("uid", "")
    for ref in store.dependents_of(uid):
        dependent = store.find(ref)
        if dependent is None:
            continue
        for r in dependent["metadata"].get("ownerReferences") or ():
            if r.get("uid") == uid and r.get("blockOwnerDeletion"):
                return
    finalizers = [f for f in owner["metadata"].get("finalizers") or () if f != FOREGROUND]
    owner = _rewrite(store, obj_resource(owner), owner, finalizers=finalizers)
    _remove_if_done(store, owner)


def _remove_if_done(store: Store, obj: Obj) -> None:
    """store.go ``shouldDeleteDuringUpdate``: no finalizers and no grace period left."""
    meta = obj["metadata"]
    done = not meta.get("finalizers") and not meta.get("deletionGracePeriodSeconds")
    if meta.get("deletionTimestamp") and done:
        store.remove_now(obj_resource(obj), meta.get("namespace"), meta["name"])


def after_removal(store: Store, gone: Obj) -> None:
    """The collector's reaction to an object that is gone: background deletion of its dependents
    (those with no other live owner; the others only lose the dangling reference), and a
    foreground-deleting owner re-checked now that one of its dependents left."""
    uid = dependent_uid(gone)
    for ref in store.dependents_of(uid):
        dependent = store.find(ref)
        if dependent is None:
            continue
        refs = dependent["metadata"].get("ownerReferences") or ()
        live = [r for r in refs if r.get("uid") != uid and store.find_uid(r.get("uid", ""))]
        if live:
            kept = [r for r in refs if r.get("uid") != uid]
            _rewrite(store, ref[0], dependent, ownerReferences=kept)
        elif not dependent["metadata"].get("deletionTimestamp"):
            delete(store, ref[0], ref[1] or None, ref[2])  # its own finalizers decide
    for r in gone["metadata"].get("ownerReferences") or ():
        owner = store.find_uid(r.get("uid", ""))
        waiting = owner is not None and FOREGROUND in (owner["metadata"].get("finalizers") or ())
        if owner is not None and waiting and owner["metadata"].get("deletionTimestamp"):
            release_if_unblocked(store, owner)
