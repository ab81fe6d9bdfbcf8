"""The real kubectl works against the sandbox the way a user would drive a KubeRay cluster."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from core.sandbox.runner import ThreadedSandbox
from tests.sandbox.conftest import DATA, Kubectl
from tests.sandbox_fixtures import wait_for

pytestmark = pytest.mark.kubectl
NAME = "raycluster-kuberay"
SAMPLE = str(DATA / "raycluster.yaml")


def _state(kubectl: Kubectl, name: str = NAME) -> str:
    return kubectl("get", "raycluster", name, "-o", "jsonpath={.status.state}").stdout


def _apply_and_wait_ready(kubectl: Kubectl) -> None:
    assert kubectl("apply", "-f", SAMPLE).stdout.strip() == f"raycluster.ray.io/{NAME} created"
    wait_for(lambda: _state(kubectl) == "ready", timeout=20, what="the RayCluster to be ready")


def _rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()[1:]]


def test_apply_raycluster_brings_up_head_and_workers(kubectl: Kubectl) -> None:
    _apply_and_wait_ready(kubectl)
    clusters = kubectl("get", "rayclusters").stdout
    header = clusters.splitlines()[0].split()
    assert header[:3] == ["NAME", "DESIRED", "WORKERS"] and "STATUS" in header
    assert _rows(clusters)[0][0] == NAME and "ready" in _rows(clusters)[0]
    pods = _rows(kubectl("get", "pods", "-l", f"ray.io/cluster={NAME}").stdout)
    assert len(pods) == 3
    assert all(ready == "1/1" and status == "Running" for _, ready, status, *_ in pods)
    assert sum(1 for p in pods if "-head-" in p[0]) == 1


def test_reapplying_the_same_file_changes_nothing_that_matters(kubectl: Kubectl) -> None:
    _apply_and_wait_ready(kubectl)
    again = kubectl("apply", "-f", SAMPLE).stdout.strip()
    assert again in (f"raycluster.ray.io/{NAME} configured", f"raycluster.ray.io/{NAME} unchanged")
    assert _state(kubectl) == "ready"


def test_get_pods_watch_sees_pending_to_running(
    kubectl: Kubectl, kubectl_binary: str, kubeconfig: Path, sandbox: ThreadedSandbox
) -> None:
    lines: list[str] = []
    cache = str(kubeconfig.parent / "kubectl-cache")
    command = [
        kubectl_binary,
        "--kubeconfig",
        str(kubeconfig),
        "--cache-dir",
        cache,
        "get",
        "pods",
        "-w",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as watcher:
        assert watcher.stdout is not None
        stream = watcher.stdout
        reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")))
        reader.start()
        try:
            # Apply only once the watch is open, or a busy machine lets the head get past
            # Pending before kubectl's first list and the first row reads ContainerCreating.
            wait_for(
                lambda: any(
                    path.endswith("/pods") and "watch=true" in query.lower()
                    for _, path, query in sandbox.requests
                ),
                what="kubectl get -w to open its watch",
            )
            kubectl("apply", "-f", SAMPLE)

            def head_running() -> bool:
                return any(
                    "-head-" in line and " 1/1 " in line and "Running" in line
                    for line in list(lines)
                )

            wait_for(head_running, timeout=20, what="kubectl get -w to show the head Running")
        finally:
            watcher.terminate()
            reader.join(timeout=10)
    head = [line.split() for line in lines if "-head-" in line]
    statuses = [row[2] for row in head]
    assert statuses[0] == "Pending" and statuses[-1] == "Running"
    assert lines[0].split()[:3] == ["NAME", "READY", "STATUS"]


def test_describe_shows_spec_and_events(kubectl: Kubectl) -> None:
    _apply_and_wait_ready(kubectl)
    described = kubectl("describe", "raycluster", NAME).stdout
    assert f"Name:         {NAME}" in described
    assert "CreatedHeadPod" in described and "Events:" in described
    head = kubectl(
        "get",
        "pods",
        "-l",
        f"ray.io/cluster={NAME},ray.io/node-type=head",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ).stdout
    pod = kubectl("describe", "pod", head).stdout
    assert "Status:           Running" in pod
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert reason in pod, f"{reason} missing from describe pod:\n{pod}"


def test_get_events_lists_what_the_controllers_did(kubectl: Kubectl) -> None:
    _apply_and_wait_ready(kubectl)
    events = kubectl("get", "events").stdout
    assert events.splitlines()[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert f"raycluster/{NAME}" in events and "CreatedWorkerPod" in events
    selected = kubectl("get", "events", "--field-selector", "reason=CreatedHeadPod").stdout
    assert len(_rows(selected)) == 1


def test_delete_raycluster_removes_its_pods_and_service(kubectl: Kubectl) -> None:
    _apply_and_wait_ready(kubectl)
    # kubectl ≥ 1.35 appends " from default namespace"
    assert kubectl("delete", "raycluster", NAME).stdout.strip() in (
        f'raycluster.ray.io "{NAME}" deleted',
        f'raycluster.ray.io "{NAME}" deleted from default namespace',
    )
    pods = kubectl("get", "pods", "-l", f"ray.io/cluster={NAME}", "-o", "name").stdout
    services = kubectl("get", "services", "-o", "name").stdout
    assert pods.strip() == "" and services.strip() == ""
    gone = kubectl("get", "raycluster", NAME, check=False)
    assert gone.returncode == 1
    assert f'rayclusters.ray.io "{NAME}" not found' in gone.stderr


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["spec"].update(bogus=1), 'strict decoding error: unknown field "spec.bogus"'),
        (
            lambda d: d["spec"]["workerGroupSpecs"][0].update(replicas="two"),
            'The RayCluster "bad" is invalid: spec.workerGroupSpecs[0].replicas: Invalid value: '
            '"string": spec.workerGroupSpecs[0].replicas in body must be of type integer: "string"',
        ),
    ],
    ids=["unknown-field", "wrong-type"],
)
def test_invalid_raycluster_is_refused_with_a_clear_error(
    kubectl: Kubectl, tmp_path: Path, mutate: object, expected: str
) -> None:
    doc = yaml.safe_load(Path(SAMPLE).read_text())
    doc["metadata"]["name"] = "bad"
    mutate(doc)  # type: ignore[operator]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = kubectl("apply", "-f", str(path), check=False)
    assert result.returncode == 1
    assert expected in result.stderr
    assert kubectl("get", "rayclusters", "-o", "name").stdout.strip() == ""


def test_core_objects_and_rbac_yaml_apply_patch_and_label(
    kubectl: Kubectl, tmp_path: Path, sandbox: ThreadedSandbox
) -> None:
    docs = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "bot"},
            "rules": [{"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "bot"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "bot"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "stringData": {"token": "x"},
        },
    ]
    path = tmp_path / "rbac.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    applied = kubectl("apply", "-f", str(path)).stdout
    for line in (
        "serviceaccount/bot created",
        "role.rbac.authorization.k8s.io/bot created",
        "rolebinding.rbac.authorization.k8s.io/bot created",
        "secret/s created",
    ):
        assert line in applied
    kubectl("label", "serviceaccount", "bot", "team=ml")
    kubectl(
        "patch",
        "role",
        "bot",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/rules/0/verbs/-","value":"list"}]',
    )
    role = json.loads(kubectl("get", "role", "bot", "-o", "json").stdout)
    assert role["rules"][0]["verbs"] == ["get", "list"]
    assert kubectl("get", "sa", "-l", "team=ml", "-o", "name").stdout.strip() == (
        "serviceaccount/bot"
    )
    assert sandbox.store.get("rolebindings", "default", "bot")["roleRef"]["name"] == "bot"


def test_typed_create_commands_sending_protobuf_work(kubectl: Kubectl) -> None:
    commands = [
        ("create", "namespace", "team-a"),
        ("-n", "team-a", "create", "secret", "generic", "creds", "--from-literal=token=s3cr3t"),
        ("-n", "team-a", "create", "configmap", "settings", "--from-literal=mode=fast"),
        ("-n", "team-a", "create", "serviceaccount", "bot"),
        (
            "-n",
            "team-a",
            "create",
            "role",
            "reader",
            "--verb=get,list",
            "--resource=rayclusters.ray.io",
        ),
        (
            "-n",
            "team-a",
            "create",
            "rolebinding",
            "bot-reads",
            "--role=reader",
            "--serviceaccount=team-a:bot",
        ),
    ]
    for command in commands:
        kubectl(*command)
    secret = json.loads(kubectl("-n", "team-a", "get", "secret", "creds", "-o", "json").stdout)
    assert secret["data"] == {"token": "czNjcjN0"} and secret["type"] == "Opaque"
    role = json.loads(kubectl("-n", "team-a", "get", "role", "reader", "-o", "json").stdout)
    assert role["rules"] == [
        {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get", "list"]}
    ]
    binding = json.loads(
        kubectl("-n", "team-a", "get", "rolebinding", "bot-reads", "-o", "json").stdout
    )
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "bot", "namespace": "team-a"}]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "reader",
    }
    assert (
        kubectl("-n", "team-a", "get", "cm", "settings", "-o", "jsonpath={.data.mode}").stdout
        == "fast"
    )


def test_server_side_apply_creates_then_updates(kubectl: Kubectl, tmp_path: Path) -> None:
    assert kubectl("apply", "--server-side", "-f", SAMPLE).stdout.strip() == (
        f"raycluster.ray.io/{NAME} serverside-applied"
    )
    doc = yaml.safe_load(Path(SAMPLE).read_text())
    doc["spec"]["workerGroupSpecs"][0]["replicas"] = 3
    path = tmp_path / "scaled.yaml"
    path.write_text(yaml.safe_dump(doc))
    kubectl("apply", "--server-side", "-f", str(path))
    replicas = kubectl(
        "get", "raycluster", NAME, "-o", "jsonpath={.spec.workerGroupSpecs[0].replicas}"
    ).stdout
    assert replicas == "3"


def test_logs_come_from_the_simulated_containers(kubectl: Kubectl) -> None:
    _apply_and_wait_ready(kubectl)
    head = kubectl("get", "pods", "-l", "ray.io/node-type=head", "-o", "name").stdout.strip()
    logs = kubectl("logs", head).stdout
    assert logs.strip(), "the head's log is empty"
    missing = kubectl("logs", head, "-c", "nope", check=False)
    assert missing.returncode == 1 and "nope" in missing.stderr


def test_server_dry_run_and_diff_show_changes_without_making_them(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    kubectl("apply", "-f", SAMPLE)
    doc = yaml.safe_load(Path(SAMPLE).read_text())
    doc["spec"]["workerGroupSpecs"][0]["replicas"] = 4
    path = tmp_path / "scaled.yaml"
    path.write_text(yaml.safe_dump(doc))
    dry = kubectl("apply", "--dry-run=server", "-f", str(path)).stdout.strip()
    assert dry == f"raycluster.ray.io/{NAME} configured (server dry run)"
    diff = kubectl("diff", "-f", str(path), check=False)
    assert diff.returncode == 1, diff.stderr  # kubectl diff exits 1 when there are differences
    assert "-    replicas: 2" in diff.stdout and "+    replicas: 4" in diff.stdout
    replicas = kubectl(
        "get", "raycluster", NAME, "-o", "jsonpath={.spec.workerGroupSpecs[0].replicas}"
    ).stdout
    assert replicas == "2"


def test_get_and_describe_nodes_show_the_simulated_pool_read_only(kubectl: Kubectl) -> None:
    _apply_and_wait_ready(kubectl)
    nodes = _rows(kubectl("get", "nodes").stdout)
    assert len(nodes) == 5
    assert {(r[1], r[2], r[4]) for r in nodes} == {("Ready", "<none>", "v1.34.1-gke.1431000")}
    head_node = kubectl(
        "get", "pods", "-l", "ray.io/node-type=head", "-o", "jsonpath={.items[0].spec.nodeName}"
    ).stdout
    described = kubectl("describe", "node", head_node).stdout
    assert f"Name:               {head_node}" in described
    assert "Ready            True" in described and "InternalIP:  10.128.0." in described
    assert f"{NAME}-head-" in described  # the node's non-terminated pods include the head
    refused = kubectl("delete", "node", head_node, check=False)
    assert refused.returncode != 0
    assert "(MethodNotAllowed): the server does not allow this method" in refused.stderr
    assert len(_rows(kubectl("get", "no").stdout)) == 5
