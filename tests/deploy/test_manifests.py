"""deploy/ is valid Kubernetes for a pinned current release, in both variants, and hardened."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from bot.serve import load_settings
from tests.deploy.deployfiles import (
    COMPONENTS,
    DEPLOY,
    KUBERNETES_VERSION,
    OPTIONAL_COMPONENTS,
    VARIANTS,
    load_documents,
    render,
    render_with,
)

# YAML under deploy/ that is not a Kubernetes object: kustomize's own files and Slack's.
NOT_KUBERNETES = {"kustomization.yaml", "slack-app-manifest.yaml",
                  "slack-app-manifest.socket-mode.yaml"}
OBJECT_FILES = sorted(
    p for p in DEPLOY.rglob("*.yaml") if p.name not in NOT_KUBERNETES
)
KUSTOMIZATIONS = sorted(DEPLOY.rglob("kustomization.yaml"))


def _validate(obj: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        where = "/".join(str(p) for p in err.path)
        pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {where}: {err.message}")


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_pinned_kubernetes_version_has_its_own_schemas_in_the_validator() -> None:
    # Not a fallback to an older release's schemas: the pinned release itself is shipped.
    assert KUBERNETES_VERSION in kubernetes_validate.utils.all_versions()


def test_deploy_has_object_files_and_kustomizations() -> None:
    assert len(OBJECT_FILES) >= 6
    assert {p.parent for p in KUSTOMIZATIONS} >= set(VARIANTS.values())


@pytest.mark.parametrize("path", OBJECT_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_object_file_validates_strictly(path: Path) -> None:
    documents = load_documents(path)
    assert documents, f"{path} holds no objects"
    for obj in documents:
        _validate(obj)


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_kustomization_parses_and_lists_only_existing_files(path: Path) -> None:
    (doc,) = load_documents(path)
    if path.parent in COMPONENTS.values():
        assert (doc["apiVersion"], doc["kind"]) == ("kustomize.config.k8s.io/v1alpha1", "Component")
    else:
        assert (doc["apiVersion"], doc["kind"]) == ("kustomize.config.k8s.io/v1beta1",
                                                    "Kustomization")
    assert "namespace" not in doc, "a namespace override would move the managed-namespace Role"
    for entry in doc.get("resources", []):
        target = (path.parent / entry).resolve()
        assert target.is_file() or (target / "kustomization.yaml").is_file(), (
            f"{path}: resource {entry!r} does not exist"
        )


def test_every_object_file_is_rendered_by_some_variant_except_the_secret_example(
    tmp_path: Path,
) -> None:
    renders = [render(directory) for directory in VARIANTS.values()]
    renders.append(render_with(DEPLOY, sorted(OPTIONAL_COMPONENTS), tmp_path))
    rendered = {
        (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace"))
        for objects in renders
        for o in objects
    }
    for path in OBJECT_FILES:
        for obj in load_documents(path):
            key = (obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
            if path.name == "secret.example.yaml":
                assert key not in rendered, "apply -k must never overwrite the real Secret"
            else:
                assert key in rendered, f"{path.name}: {key} is in no variant"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_variant_validates_strictly(variant: str) -> None:
    objects = render(VARIANTS[variant])
    for obj in objects:
        _validate(obj)
    kinds = sorted(o["kind"] for o in objects)
    # Two Roles with their bindings: the managed namespace's, and the Lease's in the bot's own.
    expected = ["ConfigMap", "Deployment", "Namespace", "Role", "Role", "RoleBinding",
                "RoleBinding", "ServiceAccount"]  # fmt: skip
    if variant == "http":
        expected = sorted([*expected, "Service"])
    assert kinds == expected


@pytest.mark.parametrize("component", sorted(OPTIONAL_COMPONENTS))
def test_component_renders_valid_objects_on_top_of_both_variants(
    component: str, tmp_path: Path
) -> None:
    for variant, directory in VARIANTS.items():
        plain = render(directory)
        objects = render_with(directory, [component], tmp_path / variant)
        for obj in objects:
            _validate(obj)
        assert len(objects) > len(plain)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_leader_election_is_on_and_grants_leases_only_in_the_bots_namespace(
    variant: str,
) -> None:
    objects = render(VARIANTS[variant])
    added = [o for o in objects if o["metadata"]["name"] == "krayne-bot-leader-election"]
    (account,) = _by_kind(objects, "ServiceAccount")
    assert sorted(o["kind"] for o in added) == ["Role", "RoleBinding"]
    for obj in added:
        assert obj["metadata"]["namespace"] == account["metadata"]["namespace"]
    (role,) = _by_kind(added, "Role")
    assert role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "verbs": ["get", "create", "update"]}]
    # The Lease lives where the Role allows it: the pod's own namespace, from the downward API.
    (deployment,) = _by_kind(objects, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KRAYNE_LEASE_NAMESPACE"]["valueFrom"] == {
        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}
    }


def test_network_policy_component_admits_the_bots_port_and_selects_its_pod(
    tmp_path: Path,
) -> None:
    objects = render_with(DEPLOY, ["network-policy"], tmp_path)
    (policy,) = _by_kind(objects, "NetworkPolicy")
    (deployment,) = _by_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]
    assert policy["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    port_names = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    (rule,) = policy["spec"]["ingress"]
    assert {p["port"] for p in rule["ports"]} <= port_names
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert {53, 443} <= egress_ports


def test_rbac_is_namespaced_and_names_every_resource_and_verb(tmp_path: Path) -> None:
    renders = [render(directory) for directory in VARIANTS.values()]
    renders.append(render_with(DEPLOY, sorted(OPTIONAL_COMPONENTS), tmp_path))
    for objects in renders:
        kinds = {o["kind"] for o in objects}
        assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
        for role in _by_kind(objects, "Role"):
            for rule in role["rules"]:
                for field in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule[field], f"{role['metadata']['name']}: wildcard"
                assert not {"namespaces", "customresourcedefinitions"} & set(rule["resources"])
        for binding in _by_kind(objects, "RoleBinding"):
            assert binding["roleRef"]["kind"] == "Role"
            (subject,) = binding["subjects"]
            (account,) = _by_kind(objects, "ServiceAccount")
            assert (subject["kind"], subject["name"], subject["namespace"]) == (
                "ServiceAccount", account["metadata"]["name"], account["metadata"]["namespace"]
            )


def test_strict_validation_rejects_a_misspelled_field() -> None:
    (deployment,) = _by_kind(render(DEPLOY), "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFileSystem"
    ] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_deployment_is_two_hardened_replicas(variant: str) -> None:
    objects = render(VARIANTS[variant])
    (deployment,) = _by_kind(objects, "Deployment")
    (account,) = _by_kind(objects, "ServiceAccount")
    spec = deployment["spec"]
    assert spec["replicas"] == 2, "two replicas: commands answered while one restarts"
    # Leader election lets old and new pods overlap: one posts, all answer.
    assert spec["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}
    }
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["args"][0] == "serve"
    assert ("--socket-mode" in container["args"]) == (variant == "socket-mode")
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    (source,) = container["envFrom"]
    (secret,) = load_documents(DEPLOY / "secret.example.yaml")
    assert source["secretRef"]["name"] == secret["metadata"]["name"]
    assert secret["metadata"]["namespace"] == deployment["metadata"]["namespace"]


def test_service_routes_to_the_bots_http_port() -> None:
    objects = render(DEPLOY)
    (deployment,) = _by_kind(objects, "Deployment")
    (service,) = _by_kind(objects, "Service")
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    port_names = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names


def test_secret_example_carries_no_real_tokens() -> None:
    (secret,) = load_documents(DEPLOY / "secret.example.yaml")
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= set(secret["stringData"])
    for key, value in secret["stringData"].items():
        assert value.endswith("REPLACE-ME"), f"{key} looks like a real value"


def test_namespace_enforces_the_restricted_pod_security_standard() -> None:
    objects = render(DEPLOY)
    (namespace,) = _by_kind(objects, "Namespace")
    (deployment,) = _by_kind(objects, "Deployment")
    assert namespace["metadata"]["name"] == deployment["metadata"]["namespace"]
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_deployment_environment_and_secret_are_settings_the_bot_reads(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (deployment,) = _by_kind(render(VARIANTS[variant]), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (secret,) = load_documents(DEPLOY / "secret.example.yaml")
    environment = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    environment |= secret["stringData"] | {"SLACK_APP_TOKEN": "xapp-REPLACE-ME"}
    for name in ("KUBECONFIG", "KRAYNE_NAMESPACE", "KRAYNE_LOG_FORMAT", "KRAYNE_SOCKET_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(container["args"][1:])
    assert settings.namespace == environment["KRAYNE_NAMESPACE"]
    assert settings.log_format == environment["KRAYNE_LOG_FORMAT"]
    assert settings.secret("bot_token") == secret["stringData"]["SLACK_BOT_TOKEN"]
    assert settings.secret("signing_secret") == secret["stringData"]["SLACK_SIGNING_SECRET"]
    assert settings.socket_mode is (variant == "socket-mode")
    (port,) = container["ports"]
    assert settings.port == port["containerPort"]
    assert settings.kubeconfig is None, "in the cluster the bot uses its ServiceAccount"


def test_deploy_guide_names_what_deploy_really_contains() -> None:
    guide = (DEPLOY / "README.md").read_text()
    for path in set(re.findall(r"`(deploy/[\w./-]+)`", guide)):
        assert (DEPLOY.parent / path).exists(), f"the guide names {path}, which does not exist"
    for component in set(re.findall(r"components/([\w-]+)", guide)):
        assert component in COMPONENTS, f"the guide names no such component: {component}"
    objects = render(DEPLOY)
    (deployment,) = _by_kind(objects, "Deployment")
    (source,) = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    namespace = deployment["metadata"]["namespace"]
    assert f"-n {namespace} create secret generic {source['secretRef']['name']}" in guide
    assert "kubectl apply -k deploy/" in guide and "kubectl apply -k deploy/socket-mode/" in guide
