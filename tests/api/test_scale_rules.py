"""How `/krayne scale` changes one worker group (core.scaling), without a server."""

from __future__ import annotations

import pytest

from core.errors import ConfigValidationError
from core.scaling import GroupScale, apply_scale, pick_group, plan_scale
from tests.unit.kube_objects import group, raycluster

# (before, autoscaling, replicas, min, max) -> after
PLANS = [
    pytest.param(GroupScale(2, 2, 2), False, 5, None, None, GroupScale(5, 2, 5),
                 id="fixed-size-up-widens-max"),
    pytest.param(GroupScale(4, 4, 4), False, 1, None, None, GroupScale(1, 1, 4),
                 id="fixed-size-down-lowers-min"),
    pytest.param(GroupScale(2, 0, 10), False, 3, None, None, GroupScale(3, 0, 10),
                 id="fixed-size-within-bounds-keeps-them"),
    pytest.param(GroupScale(0, 0, 1), True, 4, None, None, GroupScale(4, 4, 4),
                 id="autoscaled-up-raises-floor-so-workers-stay"),
    pytest.param(GroupScale(4, 4, 8), True, 1, None, None, GroupScale(1, 1, 8),
                 id="autoscaled-down-lowers-floor-autoscaler-reaps-idle"),
    pytest.param(GroupScale(1, 0, 5), True, 2, 0, 3, GroupScale(2, 0, 3),
                 id="explicit-min-max-win"),
    pytest.param(GroupScale(3, 1, 5), True, None, None, 2, GroupScale(2, 1, 2),
                 id="max-only-clamps-replicas"),
    pytest.param(GroupScale(1, 0, 1), True, None, 3, None, GroupScale(3, 3, 3),
                 id="min-above-stored-max-raises-max"),
    pytest.param(GroupScale(4, 4, 8), False, None, None, 2, GroupScale(2, 2, 2),
                 id="max-below-stored-min-lowers-min"),
]


@pytest.mark.parametrize(("before", "autoscaling", "replicas", "low", "high", "after"), PLANS)
def test_scale_plan(
    before: GroupScale,
    autoscaling: bool,
    replicas: int | None,
    low: int | None,
    high: int | None,
    after: GroupScale,
) -> None:
    plan = plan_scale(
        before, autoscaling=autoscaling, replicas=replicas, min_replicas=low, max_replicas=high
    )
    assert plan == after
    assert plan.min_replicas <= plan.replicas <= plan.max_replicas


REFUSED = [
    pytest.param(None, None, None, "nothing to change", id="nothing-given"),
    pytest.param(-1, None, None, "workers: must be between 0 and 1000, got -1", id="negative"),
    pytest.param(5000, None, None, "workers: must be between 0 and 1000", id="absurd"),
    pytest.param(2, 3, None, "workers (2) cannot be fewer than min workers (3)", id="below-min"),
    pytest.param(9, None, 4, "workers (9) cannot be more than max workers (4)", id="above-max"),
    pytest.param(None, 5, 2, "min workers (5) cannot be more than max workers (2)", id="min>max"),
]


@pytest.mark.parametrize(("replicas", "low", "high", "line"), REFUSED)
def test_impossible_scale_is_refused_with_one_line_naming_the_field(
    replicas: int | None, low: int | None, high: int | None, line: str
) -> None:
    with pytest.raises(ConfigValidationError) as err:
        plan_scale(
            GroupScale(1, 0, 4), autoscaling=True, replicas=replicas, min_replicas=low,
            max_replicas=high,
        )  # fmt: skip
    assert len(err.value.problems) == 1
    assert line in err.value.problems[0]


def test_the_only_group_is_picked_when_none_is_named() -> None:
    assert pick_group(raycluster(groups=[group("gpu", 1)]), None) == 0


def test_several_groups_need_a_name_and_the_error_lists_them() -> None:
    cluster = raycluster(groups=[group("cpu", 1), group("gpu", 0)])
    with pytest.raises(ConfigValidationError) as err:
        pick_group(cluster, None)
    assert "`cpu`, `gpu`" in str(err.value) and "--group" in str(err.value)
    assert pick_group(cluster, "gpu") == 1


def test_unknown_group_names_the_existing_ones() -> None:
    with pytest.raises(ConfigValidationError, match="no worker group `tpu`.*`cpu`"):
        pick_group(raycluster(groups=[group("cpu", 1)]), "tpu")


def test_apply_scale_changes_only_that_group_and_not_the_input() -> None:
    cluster = raycluster(groups=[group("cpu", 1), group("gpu", 0, max_replicas=2)])
    updated = apply_scale(cluster, 1, GroupScale(3, 1, 3))
    assert updated["spec"]["workerGroupSpecs"][0] == cluster["spec"]["workerGroupSpecs"][0]
    gpu = updated["spec"]["workerGroupSpecs"][1]
    assert (gpu["replicas"], gpu["minReplicas"], gpu["maxReplicas"]) == (3, 1, 3)
    assert cluster["spec"]["workerGroupSpecs"][1]["replicas"] == 0
    assert updated["metadata"]["resourceVersion"] == cluster["metadata"]["resourceVersion"]
