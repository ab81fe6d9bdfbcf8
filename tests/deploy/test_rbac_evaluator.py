"""The sandbox's RBAC behaves like the API server's: tokens, rule matching, exact 403 text."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import SandboxError
from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.authz_types import RequestAttributes, UserInfo
from core.sandbox.apiserver.rbac import (
    ADMIN_USER,
    RbacAuthorizer,
    SandboxRbac,
    TokenAuthenticator,
    enforce_rbac,
    issue_service_account_token,
    subject_matches,
)
from core.sandbox.apiserver.store import Store
from core.sandbox.runner import Sandbox

BOT = "system:serviceaccount:krayne:krayne-bot"
ADMIN_TOKEN = "sandbox-admin-token"

RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["*"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
     "resourceNames": ["demo-token"]},
    {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["*"], "verbs": ["get"]},
]


def _store(rules: list[dict[str, Any]] = RULES, role_name: str = "krayne-bot") -> Store:
    store = Store(seed=7)
    for ns in ("default", "krayne", "other"):
        store.create("namespaces", {"metadata": {"name": ns}})
    store.create("serviceaccounts", {"metadata": {"name": "krayne-bot", "namespace": "krayne"}})
    store.create("roles", {"metadata": {"name": "krayne-bot", "namespace": "default"},
                           "rules": rules})
    store.create("rolebindings", {
        "metadata": {"name": "krayne-bot", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": "krayne-bot", "namespace": "krayne"}],
    })
    return store


def _bot(store: Store) -> UserInfo:
    user = TokenAuthenticator(store, admin_token=ADMIN_TOKEN)(
        issue_service_account_token(store, "krayne", "krayne-bot")
    )
    assert user is not None
    return user


def _attrs(user: UserInfo, verb: str, resource: str, *, group: str = "", sub: str = "",
           ns: str = "default", name: str = "") -> RequestAttributes:
    return RequestAttributes(user, verb, group, resource, sub, ns, name)


# (verb, api group, resource, subresource, namespace, name) -> allowed?
DECISIONS = [
    ("get", "", "pods", "", "default", "demo-head", True),
    ("list", "", "pods", "", "default", "", True),
    ("watch", "", "pods", "", "default", "", False),  # verb not granted
    ("get", "", "pods", "log", "default", "demo-head", True),
    ("create", "", "pods", "log", "default", "demo-head", False),
    ("get", "", "pods", "exec", "default", "demo-head", False),  # "pods" grants no subresource
    ("delete", "ray.io", "rayclusters", "", "default", "demo", True),  # verbs: ["*"]
    ("get", "", "rayclusters", "", "default", "demo", False),  # wrong API group
    ("get", "ray.io", "rayclusters", "", "other", "demo", False),  # no binding there
    ("list", "ray.io", "rayclusters", "", "", "", False),  # cluster scope: never a Role
    ("get", "", "secrets", "", "default", "demo-token", True),  # resourceNames
    ("get", "", "secrets", "", "default", "someone-elses", False),
    ("list", "", "secrets", "", "default", "", False),  # resourceNames never cover a list
    ("get", "ray.io", "rayclusters", "status", "default", "demo", True),  # */status, group *
    ("update", "ray.io", "rayclusters", "status", "default", "demo", False),  # not a subresource
    ("get", "coordination.k8s.io", "leases", "", "default", "krayne-bot", True),  # "*" resource
]


@pytest.mark.parametrize(("verb", "group", "resource", "sub", "ns", "name", "allowed"),
                         DECISIONS)
def test_role_rules_decide_like_the_api_server(
    verb: str, group: str, resource: str, sub: str, ns: str, name: str, allowed: bool
) -> None:
    store = _store()
    authorize = RbacAuthorizer(store)
    attrs = _attrs(_bot(store), verb, resource, group=group, sub=sub, ns=ns, name=name)
    decision = authorize(attrs)
    assert (decision is None) is allowed, decision


def test_denied_list_names_user_verb_resource_group_and_namespace() -> None:
    store = _store(rules=[])
    message = RbacAuthorizer(store)(_attrs(_bot(store), "list", "rayclusters", group="ray.io"))
    assert message == (
        f'rayclusters.ray.io is forbidden: User "{BOT}" cannot list resource "rayclusters" '
        'in API group "ray.io" in the namespace "default"'
    )


def test_denied_subresource_names_the_object_and_the_combined_resource() -> None:
    store = _store(rules=[])
    attrs = _attrs(_bot(store), "get", "pods", sub="log", name="demo-head-x2x7k")
    assert RbacAuthorizer(store)(attrs) == (
        f'pods "demo-head-x2x7k" is forbidden: User "{BOT}" cannot get resource "pods/log" '
        'in API group "" in the namespace "default"'
    )


def test_denied_cluster_wide_list_says_at_the_cluster_scope() -> None:
    store = _store()
    attrs = _attrs(_bot(store), "list", "rayclusters", group="ray.io", ns="")
    assert RbacAuthorizer(store)(attrs) == (
        f'rayclusters.ray.io is forbidden: User "{BOT}" cannot list resource "rayclusters" '
        'in API group "ray.io" at the cluster scope'
    )


def test_binding_to_a_missing_role_is_reported_as_the_rbac_reason() -> None:
    store = _store(role_name="gone")
    message = RbacAuthorizer(store)(_attrs(_bot(store), "get", "pods", name="p"))
    assert message is not None
    assert message.endswith(
        'in the namespace "default": RBAC: role.rbac.authorization.k8s.io "gone" not found'
    )


def test_admin_token_is_a_superuser_even_at_the_cluster_scope() -> None:
    store = _store(rules=[])
    user = TokenAuthenticator(store, admin_token=ADMIN_TOKEN)(ADMIN_TOKEN)
    assert user == ADMIN_USER and "system:masters" in user.groups
    assert RbacAuthorizer(store)(_attrs(user, "list", "namespaces", ns="")) is None


def test_service_account_token_authenticates_with_the_service_account_groups() -> None:
    store = _store()
    assert _bot(store) == UserInfo(
        BOT, ("system:serviceaccounts", "system:serviceaccounts:krayne", "system:authenticated")
    )


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    return f"{header}.{payload[:-2]}AA.{signature}"


@pytest.mark.parametrize(
    "token_of",
    [
        pytest.param(lambda store: None, id="no-token"),
        pytest.param(lambda store: "", id="empty"),
        pytest.param(lambda store: "not-a-token", id="garbage"),
        pytest.param(lambda store: "a.b.c", id="three-garbage-parts"),
        pytest.param(lambda store: _tampered(
            issue_service_account_token(store, "krayne", "krayne-bot")), id="tampered"),
        pytest.param(lambda store: issue_service_account_token(
            _store(), "krayne", "krayne-bot"), id="from-another-sandbox"),
        pytest.param(lambda store: issue_service_account_token(
            store, "krayne", "krayne-bot", expiration_seconds=-1), id="expired"),
    ],
)
def test_tokens_the_sandbox_cannot_vouch_for_are_unauthorized(token_of: Any) -> None:
    store = _store()
    assert TokenAuthenticator(store, admin_token=ADMIN_TOKEN)(token_of(store)) is None


def test_tokens_die_with_their_service_account_even_if_it_is_recreated() -> None:
    store = _store()
    authenticate = TokenAuthenticator(store, admin_token=ADMIN_TOKEN)
    token = issue_service_account_token(store, "krayne", "krayne-bot")
    store.delete("serviceaccounts", "krayne", "krayne-bot")
    assert authenticate(token) is None
    store.create("serviceaccounts", {"metadata": {"name": "krayne-bot", "namespace": "krayne"}})
    assert authenticate(token) is None
    assert authenticate(issue_service_account_token(store, "krayne", "krayne-bot")) is not None


def test_no_token_is_issued_for_a_missing_service_account() -> None:
    with pytest.raises(ApiError) as caught:
        issue_service_account_token(_store(), "krayne", "nobody")
    assert caught.value.code == 404


USER = UserInfo("alice", ("devs", "system:authenticated"))
SA_USER = UserInfo(BOT, ("system:serviceaccounts", "system:serviceaccounts:krayne"))
SUBJECTS = [
    ({"kind": "User", "name": "alice"}, USER, True),
    ({"kind": "User", "name": "bob"}, USER, False),
    ({"kind": "Group", "name": "devs"}, USER, True),
    ({"kind": "Group", "name": "system:serviceaccounts:krayne"}, SA_USER, True),
    ({"kind": "Group", "name": "system:serviceaccounts:other"}, SA_USER, False),
    ({"kind": "ServiceAccount", "name": "krayne-bot", "namespace": "krayne"}, SA_USER, True),
    ({"kind": "ServiceAccount", "name": "krayne-bot", "namespace": "default"}, SA_USER, False),
    # A ServiceAccount subject without a namespace means the binding's own namespace.
    ({"kind": "ServiceAccount", "name": "krayne-bot"}, SA_USER, True),
    ({"kind": "Robot", "name": "alice"}, USER, False),
]


@pytest.mark.parametrize(("subject", "user", "matches"), SUBJECTS)
def test_binding_subjects_match_users_groups_and_service_accounts(
    subject: dict[str, str], user: UserInfo, matches: bool
) -> None:
    assert subject_matches(subject, user, binding_namespace="krayne") is matches


def test_hooks_refuse_everything_until_bound_to_a_store() -> None:
    store = _store()
    rbac = SandboxRbac()
    token = issue_service_account_token(store, "krayne", "krayne-bot")
    assert rbac.authenticate(ADMIN_TOKEN) is None
    assert rbac.authorize(_attrs(ADMIN_USER, "get", "pods", name="p")) is not None
    rbac.bind(store, admin_token=ADMIN_TOKEN)
    assert rbac.authenticate(ADMIN_TOKEN) == ADMIN_USER
    bot = rbac.authenticate(token)
    assert bot is not None and rbac.authorize(_attrs(bot, "get", "pods", name="p")) is None


def test_every_dangling_binding_is_named_in_the_reason() -> None:
    store = _store(role_name="gone")
    store.create("rolebindings", {
        "metadata": {"name": "to-a-cluster-role", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "view"},
        "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}],
    })
    message = RbacAuthorizer(store)(_attrs(_bot(store), "list", "pods"))
    assert message is not None
    assert message.endswith(
        ': RBAC: [role.rbac.authorization.k8s.io "gone" not found, '
        'clusterrole.rbac.authorization.k8s.io "view" not found]'
    )


def test_enforcing_needs_a_running_sandbox() -> None:
    with pytest.raises(SandboxError, match="running sandbox"):
        enforce_rbac(Sandbox())
