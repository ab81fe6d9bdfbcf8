"""The seam between the API server and an RBAC implementation (``core.sandbox.apiserver.rbac``).

An authenticator maps the bearer token (or ``None``) to a ``UserInfo``, or ``None`` for 401
Unauthorized; an authorizer gets ``RequestAttributes`` and returns ``None`` to allow or the
403 Forbidden message, in the real server's words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


@dataclass(frozen=True, slots=True)
class UserInfo:
    username: str
    groups: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class RequestAttributes:
    user: UserInfo
    verb: str  # one of VERBS
    api_group: str  # "" for the core group
    resource: str  # plural, e.g. "pods"
    subresource: str  # "" or e.g. "status", "log"
    namespace: str  # "" for cluster-scoped or all-namespaces requests
    name: str  # "" for collections


Authenticator = Callable[[str | None], UserInfo | None]
Authorizer = Callable[[RequestAttributes], str | None]


def forbidden_message(attrs: RequestAttributes, reasons: Sequence[str] = ()) -> str:
    """The API server's 403 text, e.g. ``pods "x" is forbidden: User "u" cannot get resource
    "pods/log" in API group "" in the namespace "default"``."""
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    detail = (
        f'User "{attrs.user.username}" cannot {attrs.verb} resource "{combined}" '
        f'in API group "{attrs.api_group}" {scope}'
    )
    if reasons:
        joined = reasons[0] if len(reasons) == 1 else "[" + ", ".join(reasons) + "]"
        detail = f"{detail}: RBAC: {joined}"
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.name:
        return f'{qualified} "{attrs.name}" is forbidden: {detail}'
    return f"{qualified} is forbidden: {detail}"
