"""Prints how long building and validating one RayCluster takes (the sandbox admits each create
through ``validate_raycluster``; its benchmark creates 1000 clusters).

    .venv/bin/python tests/benchmarks/bench_schema.py [COUNT]
"""

from __future__ import annotations

import sys
import time

from core.config import build_config
from core.sandbox.apiserver.schema import apply_crd_defaults, raycluster_schema, validate_raycluster
from manifests.raycluster import build_raycluster


def main(count: int) -> None:
    start = time.perf_counter()
    raycluster_schema()
    validate_raycluster(build_raycluster(build_config({"name": "warm"})))
    load = time.perf_counter() - start
    groups = [{"name": "cpu", "replicas": 2}, {"name": "gpu", "gpus": 1, "gpu_type": "nvidia-l4"}]
    manifests = [
        build_raycluster(build_config({"name": f"c{i}", "worker_groups": groups}), owner="U1")
        for i in range(count)
    ]
    start = time.perf_counter()
    for manifest in manifests:
        problems = validate_raycluster(apply_crd_defaults(manifest))
        assert not problems, problems
    each = (time.perf_counter() - start) / count
    print(f"schema load + first validation: {load * 1000:.0f} ms")
    print(f"defaults + validation: {each * 1000:.2f} ms per RayCluster ({count} clusters)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
