"""Benchmark: the sandbox holding 1000 RayClusters with 10 pods each.

Usage: ``.venv/bin/python tests/benchmarks/bench_sandbox_scale.py [--clusters 1000] [--pods 10]
[--namespaces 10] [--simulate]``.

By default the simulation is disabled and the objects are written straight into the store
(RayClusters through the same admission as HTTP creates: CRD defaults + schema validation;
pods and head services owned by their cluster, labelled like KubeRay's). With ``--simulate``
the RayClusters are created over HTTP and the simulated operator/kubelet (speed 50, enough
64-CPU nodes for every pod) create and run the pods; the script waits until every cluster
is ready. It then prints the process RSS and p50/p99 latency of typical requests over HTTP,
and the cost of a cascading delete. Client and server share one process (and its GIL), so the
numbers include the client's JSON decoding.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from core.sandbox.runner import ThreadedSandbox, running_sandbox

SAMPLE = Path(__file__).parents[1] / "sandbox" / "data" / "raycluster.yaml"


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def raycluster(name: str, ns: str, workers: int) -> dict[str, Any]:
    obj = yaml.safe_load(SAMPLE.read_text())
    obj["metadata"] = {
        "name": name,
        "namespace": ns,
        "labels": {"app.kubernetes.io/managed-by": "krayne"},
    }
    obj["spec"]["workerGroupSpecs"][0]["replicas"] = workers
    obj["spec"]["workerGroupSpecs"][0]["maxReplicas"] = max(workers, 5)
    return dict(obj)


def pod(cluster: dict[str, Any], name: str, node_type: str) -> dict[str, Any]:
    meta = cluster["metadata"]
    owner = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "ownerReferences": [owner],
            "labels": {
                "ray.io/cluster": meta["name"],
                "ray.io/node-type": node_type,
                "ray.io/group": "headgroup" if node_type == "head" else "workergroup",
            },
        },
        "spec": {
            "containers": [
                {
                    "name": f"ray-{node_type}",
                    "image": "rayproject/ray:2.46.0",
                    "resources": {"requests": {"cpu": "1", "memory": "1G"}},
                }
            ],
            "nodeName": "node-1",
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": f"ray-{node_type}",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                }
            ],
        },
    }


def populate_store(sb: ThreadedSandbox, clusters: int, pods: int, namespaces: int) -> None:
    store = sb._sandbox.store  # used only on the sandbox loop via sb.call

    def fill() -> None:
        for n in range(namespaces):
            store.create("namespaces", {"metadata": {"name": f"team-{n}"}})
        for i in range(clusters):
            ns = f"team-{i % namespaces}"
            rc = store.create("rayclusters", raycluster(f"rc-{i}", ns, pods - 1))
            store.create("pods", pod(rc, f"rc-{i}-head", "head"))
            for w in range(pods - 1):
                store.create("pods", pod(rc, f"rc-{i}-worker-{w}", "worker"))
            store.create(
                "services",
                {
                    "metadata": {
                        "name": f"rc-{i}-head-svc",
                        "namespace": ns,
                        "ownerReferences": pod(rc, "x", "head")["metadata"]["ownerReferences"],
                    },
                    "spec": {"clusterIP": "None", "ports": [{"port": 6379}]},
                },
            )

    sb.call(fill, timeout=3600)


def populate_simulated(sb: ThreadedSandbox, clusters: int, pods: int, namespaces: int) -> None:
    for n in range(namespaces):
        sb.store.create("namespaces", {"metadata": {"name": f"team-{n}"}})
    for i in range(clusters):
        ns = f"team-{i % namespaces}"
        body = json.dumps(raycluster(f"rc-{i}", ns, pods - 1)).encode()
        request(sb, f"/apis/ray.io/v1/namespaces/{ns}/rayclusters", method="POST", body=body)
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        items = request(sb, "/apis/ray.io/v1/rayclusters")["items"]
        ready = sum(1 for rc in items if (rc.get("status") or {}).get("state") == "ready")
        if ready == clusters:
            return
        print(f"  {ready}/{clusters} clusters ready", flush=True)
        time.sleep(2)
    raise SystemExit(f"only {ready} of {clusters} clusters became ready")


def request(
    sb: ThreadedSandbox,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    accept: str = "application/json",
) -> Any:
    req = urllib.request.Request(
        sb.url + path,
        data=body,
        method=method,
        headers={
            "Authorization": f"Bearer {sb.token}",
            "Accept": accept,
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def measure(label: str, runs: int, call: Callable[[int], Any]) -> None:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"  {label:<52} p50 {statistics.median(times):8.2f} ms   p99 {p99:8.2f} ms   (n={runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10, help="pods per cluster (1 head + workers)")
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="create over HTTP and let the simulation run the pods (speed 50)",
    )
    args = parser.parse_args()
    base_rss = rss_mib()
    config = None
    if args.simulate:
        from core.sandbox.sim.simconfig import SimConfig

        count = args.clusters * args.pods // 60 + 1  # 64-CPU nodes, room for every pod
        config = SimConfig.from_mapping(
            {
                "nodes": [
                    {"name": f"bench-node-{i}", "cpu": "64", "memory": "1024Gi"}
                    for i in range(count)
                ]
            }
        )
    with running_sandbox(simulate=args.simulate, speed=50.0, config=config) as sb:
        started = time.perf_counter()
        if args.simulate:
            populate_simulated(sb, args.clusters, args.pods, args.namespaces)
        else:
            populate_store(sb, args.clusters, args.pods, args.namespaces)
        elapsed = time.perf_counter() - started
        objects = sb.call(sb._sandbox.store.object_count)
        mode = "simulation (HTTP creates)" if args.simulate else "store writes, no simulation"
        print(f"sandbox scale benchmark: {args.clusters} RayClusters x {args.pods} pods ({mode})")
        print(f"  populated {objects} objects in {elapsed:.1f} s")
        print(
            f"  RSS: {rss_mib():.0f} MiB (before: {base_rss:.0f} MiB, "
            f"{(rss_mib() - base_rss) * 1024 / max(objects, 1):.1f} KiB/object)"
        )
        n, ns = args.clusters, args.namespaces
        table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        measure(
            "GET one RayCluster",
            300,
            lambda i: request(
                sb,
                f"/apis/ray.io/v1/namespaces/team-{(i * 7) % n % ns}/rayclusters/rc-{(i * 7) % n}",
            ),
        )
        heads = [
            (p["metadata"]["namespace"], p["metadata"]["name"])
            for p in request(sb, "/api/v1/pods?labelSelector=ray.io/node-type%3Dhead")["items"]
        ]
        measure(
            "GET one pod",
            300,
            lambda i: request(
                sb, "/api/v1/namespaces/{}/pods/{}".format(*heads[(i * 13) % len(heads)])
            ),
        )
        measure(
            "LIST pods -l ray.io/cluster=NAME (10 pods)",
            300,
            lambda i: request(
                sb,
                f"/api/v1/namespaces/team-{(i * 13) % n % ns}/pods"
                f"?labelSelector=ray.io/cluster%3Drc-{(i * 13) % n}",
            ),
        )
        measure(
            "LIST rayclusters in one namespace",
            50,
            lambda i: request(sb, f"/apis/ray.io/v1/namespaces/team-{i % ns}/rayclusters"),
        )
        measure(
            "LIST rayclusters in one namespace as Table",
            50,
            lambda i: request(
                sb, f"/apis/ray.io/v1/namespaces/team-{i % ns}/rayclusters", accept=table
            ),
        )
        measure(
            "LIST all rayclusters (all namespaces)",
            10,
            lambda i: request(sb, "/apis/ray.io/v1/rayclusters"),
        )
        measure("LIST all pods (all namespaces)", 5, lambda i: request(sb, "/api/v1/pods"))
        measure(
            "LIST all pods, first page of 500 (kubectl's chunk)",
            20,
            lambda i: request(sb, "/api/v1/pods?limit=500"),
        )
        measure(
            "DELETE one RayCluster (cascade)",
            20,
            lambda i: request(
                sb, f"/apis/ray.io/v1/namespaces/team-{i % ns}/rayclusters/rc-{i}", method="DELETE"
            ),
        )
        print(f"  RSS at the end: {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
