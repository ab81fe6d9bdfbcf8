"""What an autoscaled pool's nodes look like and what each autoscaler says about them.

The node autoscaler (node_autoscaler.py) decides; this module holds the upstream specifics it
needs: the labels and names each flavour gives its nodes, and the exact event texts of
cluster-autoscaler and Karpenter, each next to the upstream function that formats it.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Iterable, Mapping
from typing import Any

from core.sandbox.sim.scheduler import NodeState, pod_requests, tolerated
from core.sandbox.sim.simconfig import NodePool, NodeSpec

_ALPHABET = string.ascii_lowercase + string.digits


def pool_node_spec(pool: NodePool, name: str) -> NodeSpec:
    """A node of ``pool``: the template plus the labels its autoscaler's nodes carry."""
    tpl = pool.node
    labels = dict(tpl.labels)
    if pool.autoscaler == "karpenter":
        # karpenter: pkg/apis/v1/labels.go NodePoolLabelKey, NodeRegisteredLabelKey,
        # NodeInitializedLabelKey, CapacityTypeLabelKey.
        labels.update(
            {
                "karpenter.sh/nodepool": pool.name,
                "karpenter.sh/registered": "true",
                "karpenter.sh/initialized": "true",
                "karpenter.sh/capacity-type": labels.get("karpenter.sh/capacity-type", "on-demand"),
            }
        )
    else:
        labels.setdefault("cloud.google.com/gke-nodepool", pool.name)  # GKE node group label
    return NodeSpec(
        name=name,
        cpu=tpl.cpu,
        memory=tpl.memory,
        gpus=tpl.gpus,
        gpu_resource=tpl.gpu_resource,
        max_pods=tpl.max_pods,
        labels=labels,
        taints=list(tpl.taints),
    )


def node_name(pool: NodePool, rng: random.Random) -> str:
    """Karpenter: the NodeClaim's ``generateName: <nodepool>-`` (the node takes the claim's
    name, as on Azure and GCP providers). cluster-autoscaler on GKE: a managed instance group VM,
    ``gke-<cluster>-<pool>-<hash>-<suffix>``."""
    if pool.autoscaler == "karpenter":
        return f"{pool.name}-" + "".join(rng.choices(_ALPHABET, k=5))
    digest = hashlib.sha256(pool.name.encode()).hexdigest()[:8]
    return f"gke-sandbox-{pool.name}-{digest}-" + "".join(rng.choices(_ALPHABET, k=4))


def scale_up_info(group: str, before: int, after: int, maximum: int) -> str:
    """cluster-autoscaler: processors/nodegroupset/nodegroups.go ``ScaleUpInfo.String``
    ("{%v %v->%v (max: %v)}"), printed as a one-element slice with ``%v``."""
    return f"[{{{group} {before}->{after} (max: {maximum})}}]"


def reasons_message(per_group: Iterable[list[str]]) -> str:
    """cluster-autoscaler: processors/status/eventing_scale_up_processor.go ``ReasonsMessage``:
    "<count> <reason>" for each distinct reason over the node groups, ", "-joined (upstream's
    order is Go map order; sorted here)."""
    counts: dict[str, int] = {}
    for reasons in per_group:
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))


def karpenter_rejection(pool: NodePool, size: int, spec: Mapping[str, Any]) -> str:
    """Why a new NodeClaim of ``pool`` cannot take the pod ("" if it can), as Karpenter's
    pkg/controllers/provisioning/scheduling/scheduler.go ``addToNewNodeClaim`` and
    nodeclaim.go ``CanAdd`` word it."""
    template = pool_node_spec(pool, "template")
    if size >= pool.max:  # the NodePool's spec.limits.nodes
        return "node limits have been exhausted for nodepool"
    untolerated = [t for t in template.taints if not tolerated(t, spec)]
    if untolerated:  # pkg/scheduling/taints.go Tolerates (multierr, "; "-joined)
        return "; ".join("did not tolerate taint" for _ in untolerated)
    labels = template.labels
    for key, value in sorted((spec.get("nodeSelector") or {}).items()):
        if key not in labels:  # pkg/scheduling/requirements.go Compatible
            return f'incompatible requirements, label "{key}" does not have known values'
        if labels[key] != value:  # requirements.go badKeyError
            return (
                f"incompatible requirements, key {key}, {key} In [{value}] not in "
                f"{key} In [{labels[key]}]"
            )
    requests = pod_requests(spec)
    if NodeState.from_spec(template).failures(spec, requests)[0]:
        # nodeclaim.go InstanceTypeFilterError.Error, the "!e.fits" case. The NodeClaim's
        # requirements are the NodePool's template labels and its name.
        wanted = {**{k: v for k, v in requests.items() if v}, "pods": 1000}
        claim = {**pool.node.labels, "karpenter.sh/nodepool": pool.name}
        requirements = ", ".join(sorted(f"{k} In [{v}]" for k, v in claim.items()))
        resources = json.dumps(
            {k: _quantity(k, v) for k, v in sorted(wanted.items())}, separators=(",", ":")
        )
        return (
            f"no instance type has enough resources, requirements={requirements}, "
            f"resources={resources}"
        )
    return ""


def _quantity(name: str, milli: int) -> str:
    """A canonical-looking quantity for a milli-unit amount (resources.String style)."""
    if name == "memory" and milli % 1000 == 0:
        amount = milli // 1000
        for suffix, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
            if amount % size == 0:
                return f"{amount // size}{suffix}"
        return str(amount)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
