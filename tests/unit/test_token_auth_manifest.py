"""Ray's endpoints require a token (issue 12, hole 2): ``authOptions: {mode: token}`` is set
for every Ray version KubeRay 1.5 accepts it for (2.52.0 and later), never below."""

from __future__ import annotations

import pytest

from core.config import build_config
from core.sandbox.apiserver.schema import validate_raycluster
from core.sandbox.sim.kuberay_auth import check_name, validate_auth
from manifests.raycluster import (
    DEFAULT_RAY_VERSION,
    auth_secret_name,
    build_raycluster,
    supports_token_auth,
)


@pytest.mark.parametrize("version", [DEFAULT_RAY_VERSION, "2.52.0", "2.53.0", "2.60.0", "3.0.0"])
def test_token_auth_is_on_for_ray_versions_that_support_it(version: str) -> None:
    manifest = build_raycluster(build_config({"name": "demo"}), ray_version=version)
    assert manifest["spec"]["authOptions"] == {"mode": "token"}
    assert validate_raycluster(manifest) == []
    assert validate_auth(manifest) is None  # the operator's own check accepts it


@pytest.mark.parametrize("version", ["2.46.0", "2.51.1", "nightly", "latest"])
def test_token_auth_stays_off_where_the_operator_would_refuse_it(version: str) -> None:
    manifest = build_raycluster(build_config({"name": "demo"}), ray_version=version)
    assert "authOptions" not in manifest["spec"]
    assert not supports_token_auth(version)
    refused = {**manifest, "spec": {**manifest["spec"], "authOptions": {"mode": "token"}}}
    assert validate_auth(refused) is not None


@pytest.mark.parametrize(
    "name", ["demo", "a" * 50, "a" * 51 + "-x", "x" * 40 + "-1234567890123"]
)
def test_the_token_secret_is_named_as_kuberay_names_it(name: str) -> None:
    assert auth_secret_name(name) == check_name(name)
    assert len(auth_secret_name(name)) <= 50
