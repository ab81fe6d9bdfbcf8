"""RBAC for the sandbox: who is calling (bearer tokens) and may they (Roles and RoleBindings).

With these hooks the sandbox answers as an API server with RBAC enabled does, so deploy/'s Role
and RoleBinding are proven by running the bot with exactly the ServiceAccount identity they
grant. Both halves follow Kubernetes' own code, in miniature:

- ``TokenAuthenticator``: the sandbox's admin token is ``system:admin`` in ``system:masters``
  (the superuser group, never checked against RBAC); ServiceAccount tokens come from
  ``issue_service_account_token``, are signed with a per-store key and name the account's uid,
  so they stop working when the account is deleted, as bound tokens do.
- ``RbacAuthorizer``: the rule resolver of ``plugin/pkg/auth/authorizer/rbac`` — RoleBindings in
  the request's namespace whose subjects match the user, then the referenced Role's rules
  (``apiGroups``, ``resources`` with ``pods/log``-style subresources and ``*/log``, ``verbs``,
  ``resourceNames``, ``*`` wildcards). Denials carry the API server's exact message
  (``responsewriters.forbiddenMessage`` wrapped by ``apierrors.NewForbidden``), including the
  ``RBAC: role.rbac.authorization.k8s.io "x" not found`` reason of a dangling binding.

The sandbox stores no ClusterRoles or ClusterRoleBindings: cluster-scope requests (a cluster-wide
list, namespaces) are refused for everyone but ``system:masters`` — what krayne-bot's namespaced
deployment must live with in production too. kubectl never sends a bearer token to a plain-HTTP
server, so against an enforcing sandbox (no TLS) it is refused with 401: load objects through
the store, and use kubernetes-asyncio (which does send the token) for the identity under test.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import SandboxError
from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.authz_types import RequestAttributes, UserInfo, forbidden_message
from core.sandbox.apiserver.store import Store
from core.sandbox.runner import Sandbox

__all__ = [
    "ADMIN_USER",
    "RbacAuthorizer",
    "SandboxRbac",
    "TokenAuthenticator",
    "forbidden_message",
    "issue_service_account_token",
    "enforce_rbac",
    "rbac_sandbox",
    "rule_allows",
    "service_account_username",
    "subject_matches",
]

SUPERUSER_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
ADMIN_USER = UserInfo("system:admin", (SUPERUSER_GROUP, AUTHENTICATED_GROUP))
_SA_PREFIX = "system:serviceaccount:"
_ISSUER = "https://kubernetes.default.svc.cluster.local"
_DEFAULT_TOKEN_SECONDS = 24 * 3600

# One signing key per store: tokens from one sandbox mean nothing to another.
_SIGNING_KEYS: weakref.WeakKeyDictionary[Store, bytes] = weakref.WeakKeyDictionary()


def service_account_username(namespace: str, name: str) -> str:
    return f"{_SA_PREFIX}{namespace}:{name}"


def _signing_key(store: Store) -> bytes:
    key = _SIGNING_KEYS.get(store)
    if key is None:
        key = _SIGNING_KEYS[store] = secrets.token_bytes(32)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_service_account_token(
    store: Store, namespace: str, name: str, *, expiration_seconds: int = _DEFAULT_TOKEN_SECONDS
) -> str:
    """A signed JWT for the ServiceAccount, like ``kubectl create token``; 404 if it is missing.

    Expiry is wall-clock time, like every timestamp the sandbox writes; ``--speed`` does not
    shorten a token's life.
    """
    account = store.get_ref("serviceaccounts", namespace, name)
    now = int(time.time())
    claims = {
        "iss": _ISSUER,
        "sub": service_account_username(namespace, name),
        "aud": [_ISSUER],
        "iat": now,
        "nbf": now,
        "exp": now + expiration_seconds,
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": account["metadata"].get("uid", "")},
        },
    }
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(_signing_key(store), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(signature.digest())}"


class TokenAuthenticator:
    """Bearer token -> ``UserInfo``; ``None`` (401) for anything it cannot vouch for."""

    def __init__(self, store: Store, *, admin_token: str) -> None:
        self._store = store
        self._admin_token = admin_token

    def __call__(self, token: str | None) -> UserInfo | None:
        if not token:
            return None
        if hmac.compare_digest(token.encode(), self._admin_token.encode()):
            return ADMIN_USER
        return self._service_account(token)

    def _service_account(self, token: str) -> UserInfo | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(
            _signing_key(self._store), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256
        ).digest()
        try:
            signature_ok = hmac.compare_digest(_unb64(parts[2]), expected)
            claims = json.loads(_unb64(parts[1])) if signature_ok else None
        except (binascii.Error, ValueError):
            return None
        if not isinstance(claims, dict) or claims.get("exp", 0) < time.time():
            return None
        ref = claims.get("kubernetes.io", {})
        namespace, account = ref.get("namespace"), ref.get("serviceaccount", {})
        if not isinstance(namespace, str) or not isinstance(account, dict):
            return None
        try:
            stored = self._store.get_ref("serviceaccounts", namespace, str(account.get("name")))
        except ApiError:
            return None  # deleted since: its tokens die with it
        if stored["metadata"].get("uid", "") != account.get("uid"):
            return None  # deleted and re-created: a new account, not the old token's
        return UserInfo(
            service_account_username(namespace, account["name"]),
            ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED_GROUP),
        )


# ------------------------------------------------------------------------------- evaluation
def _has(values: Any, wanted: str) -> bool:
    return isinstance(values, list) and ("*" in values or wanted in values)


def rule_allows(
    rule: Mapping[str, Any],
    *,
    verb: str,
    api_group: str,
    resource: str,
    subresource: str = "",
    name: str = "",
) -> bool:
    """Does one PolicyRule cover the request? (rbac/v1 ``RuleAllows``.)"""
    if not _has(rule.get("verbs"), verb) or not _has(rule.get("apiGroups"), api_group):
        return False
    combined = f"{resource}/{subresource}" if subresource else resource
    resources = rule.get("resources") or []
    if not any(
        r in ("*", combined) or (subresource != "" and r == f"*/{subresource}") for r in resources
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or name in names


def subject_matches(subject: Mapping[str, Any], user: UserInfo, *, binding_namespace: str) -> bool:
    """Does a RoleBinding subject name this user? (rbac ``appliesToUser``.)"""
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.username
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.username == service_account_username(namespace, str(name))
    return False


class RbacAuthorizer:
    """``RequestAttributes`` -> ``None`` (allowed) or the 403 message, from the store's RBAC."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __call__(self, attrs: RequestAttributes) -> str | None:
        if SUPERUSER_GROUP in attrs.user.groups:
            return None
        allowed, reasons = self.evaluate(attrs)
        return None if allowed else forbidden_message(attrs, reasons)

    def evaluate(self, attrs: RequestAttributes) -> tuple[bool, list[str]]:
        """Allowed?, and the errors met on the way (dangling role references)."""
        reasons: list[str] = []
        if not attrs.namespace:
            return False, reasons
        for binding in self._bindings(attrs.namespace):
            subjects = binding.get("subjects") or []
            if not any(
                subject_matches(s, attrs.user, binding_namespace=attrs.namespace) for s in subjects
            ):
                continue
            rules = self._rules(binding.get("roleRef") or {}, attrs.namespace, reasons)
            if any(
                rule_allows(
                    rule,
                    verb=attrs.verb,
                    api_group=attrs.api_group,
                    resource=attrs.resource,
                    subresource=attrs.subresource or "",
                    name=attrs.name or "",
                )
                for rule in rules
            ):
                return True, []
        return False, reasons

    def _bindings(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        refs, _ = self._store.list_refs("rolebindings", namespace)
        return refs

    def _rules(
        self, role_ref: Mapping[str, Any], namespace: str, reasons: list[str]
    ) -> list[Mapping[str, Any]]:
        kind, name = role_ref.get("kind"), str(role_ref.get("name", ""))
        if kind != "Role":
            # No ClusterRoles in the sandbox: a binding to one resolves to nothing, as a
            # binding to a deleted ClusterRole does on a real server.
            reasons.append(f'clusterrole.rbac.authorization.k8s.io "{name}" not found')
            return []
        try:
            role = self._store.get_ref("roles", namespace, name)
        except ApiError:
            reasons.append(f'role.rbac.authorization.k8s.io "{name}" not found')
            return []
        return [r for r in role.get("rules") or [] if isinstance(r, Mapping)]


# ---------------------------------------------------------------------------------- wiring
class SandboxRbac:
    """Both hooks for a ``Sandbox``, which must exist (with its store) before they can be bound:
    pass ``authenticate``/``authorize`` to it, then ``bind`` its store and admin token. Until
    bound, every request is refused (401)."""

    def __init__(self) -> None:
        self._authenticator: TokenAuthenticator | None = None
        self._authorizer: RbacAuthorizer | None = None

    def bind(self, store: Store, *, admin_token: str) -> None:
        self._authenticator = TokenAuthenticator(store, admin_token=admin_token)
        self._authorizer = RbacAuthorizer(store)

    def authenticate(self, token: str | None) -> UserInfo | None:
        return None if self._authenticator is None else self._authenticator(token)

    def authorize(self, attrs: RequestAttributes) -> str | None:
        if self._authorizer is None:
            return forbidden_message(attrs)
        return self._authorizer(attrs)


def rbac_sandbox(**kwargs: Any) -> Sandbox:
    """A ``Sandbox`` that enforces RBAC from its own store: its kubeconfig's admin token is
    ``system:admin``; everyone else gets what Roles and RoleBindings grant, authenticating with
    ``issue_service_account_token(sandbox.store, ns, name)``."""
    rbac = SandboxRbac()
    sandbox = Sandbox(authenticator=rbac.authenticate, authorizer=rbac.authorize, **kwargs)
    rbac.bind(sandbox.store, admin_token=sandbox.token)
    return sandbox


def enforce_rbac(sandbox: Sandbox) -> None:
    """Switch a running, open ``Sandbox`` to RBAC, as ``rbac_sandbox`` would have started it.

    For setting up with kubectl first (``kubectl apply`` of Roles and RoleBindings works while
    the sandbox is open; kubectl cannot authenticate to it afterwards, see above)."""
    if sandbox.server is None:
        raise SandboxError("enforce_rbac needs a running sandbox (inside `async with`)")
    rbac = SandboxRbac()
    rbac.bind(sandbox.store, admin_token=sandbox.token)
    sandbox.server.authenticator = rbac.authenticate
    sandbox.server.authorizer = rbac.authorize
