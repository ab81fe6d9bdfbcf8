"""Ray token authentication as KubeRay v1.5.1 sets it up (``spec.authOptions.mode: token``).

- ``ctrl/utils/validation.go`` ``ValidateRayClusterSpec``: token mode needs a ``rayVersion`` of
  at least 2.52.0 (Warning ``InvalidRayClusterSpec`` otherwise, and no status).
- ``ctrl/raycluster_controller.go`` ``reconcileAuthSecret`` / ``createAuthSecret``: before the
  Services and pods, a Secret named ``CheckName(<cluster>)`` holding ``auth_token`` (base64 of 32
  random bytes), labelled ``ray.io/cluster`` and controlled by the RayCluster. A Secret of that
  name that already exists is used as it is (no check of who made it).
- ``ctrl/common/pod.go`` ``configureTokenAuth`` / ``SetContainerTokenAuthEnvVars``:
  ``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN`` (``secretKeyRef`` to that Secret) on the Ray
  container of every pod, the ``wait-gcs-ready`` init container and the autoscaler sidecar.
- ``ctrl/utils/util.go`` ``CheckName``: a name longer than 50 characters keeps its last 50; a
  leading digit or punctuation becomes ``r``.
"""

from __future__ import annotations

import base64
import random
import re
from typing import Any

from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.sim.kuberay_pods import owner_reference

Obj = dict[str, Any]

AUTH_TOKEN_KEY = "auth_token"  # utils.RAY_AUTH_TOKEN_SECRET_KEY
MIN_RAY_VERSION = (2, 52, 0)
_GENERIC_VERSION = re.compile(r"v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")  # version.ParseGeneric


def token_auth(rc: Obj) -> bool:
    """``utils.IsAuthEnabled``."""
    return ((rc.get("spec") or {}).get("authOptions") or {}).get("mode") == "token"


def check_name(name: str) -> str:
    """``utils.CheckName``: the name the operator gives objects derived from the cluster's."""
    if len(name) > 50:
        name = name[len(name) - 50 :]
    if name[:1].isdigit() or (name[:1] and not name[0].isalnum()):
        name = "r" + name[1:]
    return name


def validate_auth(rc: Obj) -> str | None:
    """The token-mode part of ``ValidateRayClusterSpec``: the problem, or None."""
    if not token_auth(rc):
        return None
    version = str(rc["spec"].get("rayVersion") or "")
    if not version:
        return (
            "authOptions.mode is 'token' but RayVersion was not specified. Ray version 2.52.0 "
            "or later is required"
        )
    match = _GENERIC_VERSION.match(version)
    if match is None:
        return (
            f"authOptions.mode is 'token' but RayVersion format is invalid: {version}, could not"
            f' parse "{version}" as version'
        )
    parsed = tuple(int(part or 0) for part in match.groups())
    if parsed < MIN_RAY_VERSION:
        return f"authOptions.mode is 'token' but minimum Ray version is 2.52.0, got {version}"
    return None


def ensure_auth_secret(store: Any, rc: Obj, rng: random.Random) -> bool:
    """``reconcileAuthSecret``: create the token Secret unless one of that name exists. True if
    it was created."""
    if not token_auth(rc):
        return False
    namespace, name = rc["metadata"]["namespace"], check_name(rc["metadata"]["name"])
    try:
        store.get_ref("secrets", namespace, name)
        return False
    except ApiError as err:
        if err.code != 404:
            raise
    token = base64.b64encode(rng.randbytes(32)).decode()
    store.create("secrets", {
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"ray.io/cluster": rc["metadata"]["name"]},
                     "ownerReferences": [owner_reference(rc)]},
        "type": "Opaque",
        "data": {AUTH_TOKEN_KEY: base64.b64encode(token.encode()).decode()},
    })  # fmt: skip
    return True


def add_token_env(rc: Obj, pod: Obj) -> Obj:
    """``configureTokenAuth`` on a pod the operator is about to create; returns ``pod``."""
    if not token_auth(rc):
        return pod
    spec = pod["spec"]
    targets = [spec["containers"][0]]
    targets += [c for c in spec["containers"][1:] if c.get("name") == "autoscaler"]
    targets += [c for c in spec.get("initContainers") or () if c.get("name") == "wait-gcs-ready"]
    ref = {"name": check_name(rc["metadata"]["name"]), "key": AUTH_TOKEN_KEY}
    for container in targets:
        container.setdefault("env", []).extend([
            {"name": "RAY_AUTH_MODE", "value": "token"},
            {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": dict(ref)}},
        ])  # fmt: skip
    return pod
