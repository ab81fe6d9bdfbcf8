"""Label and annotation keys krayne-bot puts on what it creates, and the label values it derives.

Labels are for selecting (``app.kubernetes.io/managed-by=krayne``, ``krayne.io/owner=U123``);
the annotations that carry the bot's state are defined with their record in ``core.state``.
The ``ray.io/*`` keys are the ones the KubeRay operator puts on the pods it creates.
"""

from __future__ import annotations

import re

MANAGED_BY: tuple[str, str] = ("app.kubernetes.io/managed-by", "krayne")
NAME = "app.kubernetes.io/name"

# The owner's Slack user id: a label (for selecting) and an annotation (exact). The other state
# annotations (Slack thread, last phase announced) are core.state's.
OWNER = "krayne.io/owner"

# Labels the KubeRay operator sets on pods (OPERATOR.md §2).
RAY_CLUSTER = "ray.io/cluster"
RAY_NODE_TYPE = "ray.io/node-type"
RAY_GROUP = "ray.io/group"

_LABEL_VALUE_MAX = 63
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]+")
_EDGES = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")


def label_value(text: str) -> str:
    """``text`` made into a valid label value: other characters become ``-``, at most 63 long,
    starting and ending alphanumeric (may be empty). Slack user ids pass through unchanged."""
    value = _NOT_ALLOWED.sub("-", text)[:_LABEL_VALUE_MAX]
    return _EDGES.sub("", value)


def owner_selector(owner: str) -> str:
    """Label selector for the clusters (and pods) of one owner, e.g. for `/krayne list --mine`."""
    return f"{OWNER}={label_value(owner)}"


def cluster_labels(name: str, owner: str | None = None) -> dict[str, str]:
    """Labels of a RayCluster: managed-by, its name and, when known, its owner."""
    labels = {MANAGED_BY[0]: MANAGED_BY[1], NAME: name}
    owner_value = label_value(owner) if owner else ""
    if owner_value:
        labels[OWNER] = owner_value
    return labels


def pod_labels(owner: str | None = None) -> dict[str, str]:
    """Labels for the pod templates, so pods can be selected with the same managed-by selector.

    ``app.kubernetes.io/name`` is left to the operator (it sets ``kuberay`` on pods)."""
    labels = {MANAGED_BY[0]: MANAGED_BY[1]}
    owner_value = label_value(owner) if owner else ""
    if owner_value:
        labels[OWNER] = owner_value
    return labels
