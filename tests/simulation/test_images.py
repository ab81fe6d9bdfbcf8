"""The image catalogue answers pulls the way containerd and the registries behind it would."""

from __future__ import annotations

import pytest

from core.sandbox.sim.images import (
    ImageCatalogue,
    InvalidImageNameError,
    PullOutcome,
    default_pull_policy,
    parse_image,
)
from core.sandbox.sim.simconfig import (
    CRASHING_DEMO_IMAGE,
    OOM_DEMO_IMAGE,
    ImageCatalogueConfig,
    SimConfig,
)


@pytest.fixture
def catalogue() -> ImageCatalogue:
    return ImageCatalogue(SimConfig.default().images)


@pytest.mark.parametrize(
    "image",
    [
        "rayproject/ray:2.53.0",
        "rayproject/ray:2.53.0-py311",
        "rayproject/ray:2.53.0-py313-gpu",
        "rayproject/ray:2.52.1-py310-cpu",
        "rayproject/ray:2.46.0-py39-gpu",
        "rayproject/ray:2.40.0-py312",
        "docker.io/rayproject/ray:2.49.2-gpu",
        "rayproject/ray:latest",
        "rayproject/ray:latest-py311-gpu",
        "rayproject/ray:nightly-py312",
        "rayproject/ray",
        "rayproject/ray:2.60.0-py312",
        "rayproject/ray:2.60.0-py311",
        "rayproject/ray:2.60.0-py310",
        "rayproject/ray:2.60.0-py312-gpu",
        "rayproject/ray:2.60.0-py311-gpu",
        "rayproject/ray:2.60.0-py310-gpu",
        "rayproject/ray:2.60.0-py312-cu128",
        "rayproject/ray:2.60.0-py311-cpu-aarch64",
        "rayproject/ray:2.57.0-py311-gpu",
        "rayproject/ray:2.20.0-py310-cu121",
        CRASHING_DEMO_IMAGE,
        OOM_DEMO_IMAGE,
    ],
)
def test_real_ray_tags_pull(catalogue: ImageCatalogue, image: str) -> None:
    result = catalogue.resolve(image)
    assert result.outcome is PullOutcome.OK
    assert result.size_bytes > 1 << 30
    assert result.digest.startswith("sha256:")


@pytest.mark.parametrize(
    "image",
    ["rayproject/ray:9.9.9", "rayproject/ray:2.53.0-py39", "rayproject/ray:2.45.0-py313",
     "rayproject/ray:2.53.0-py311-rocm", "rayproject/ray:2.61.0-py312", "rayproject/ray:2.15.0",
     "rayproject/ray:2.60.0-py312-cu999", "rayproject/ray:2.8.0-py310-cu128"],
)  # fmt: skip
def test_unknown_tag_of_a_known_repository_is_not_found(
    catalogue: ImageCatalogue, image: str
) -> None:
    result = catalogue.resolve(image)
    full = parse_image(image).full
    assert result.outcome is PullOutcome.NOT_FOUND
    assert result.error == (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{full}": '
        f'failed to resolve reference "{full}": {full}: not found'
    )


def test_gpu_images_are_bigger_than_cpu_images(catalogue: ImageCatalogue) -> None:
    cpu = catalogue.resolve("rayproject/ray:2.53.0-py311").size_bytes
    gpu = catalogue.resolve("rayproject/ray:2.53.0-py311-gpu").size_bytes
    assert gpu > 3 * cpu


def test_unknown_docker_hub_repository_is_pull_access_denied(catalogue: ImageCatalogue) -> None:
    result = catalogue.resolve("krayne/private-ray:1.0")
    assert result.outcome is PullOutcome.DENIED
    assert result.error.endswith(
        'failed to resolve reference "docker.io/krayne/private-ray:1.0": pull access denied, '
        "repository does not exist or may require authorization: server message: "
        "insufficient_scope: authorization failed"
    )


def test_unknown_repository_on_another_registry_is_401(catalogue: ImageCatalogue) -> None:
    result = catalogue.resolve("ghcr.io/acme/ray:custom")
    assert result.outcome is PullOutcome.DENIED
    assert "failed to fetch anonymous token" in result.error
    assert result.error.endswith("401 Unauthorized")


def test_unreachable_registry_times_out(catalogue: ImageCatalogue) -> None:
    result = catalogue.resolve("registry.internal.example:5000/ml/ray:2.53.0")
    assert result.outcome is PullOutcome.TIMEOUT
    assert ":5000: i/o timeout" in result.error
    assert 'Head "https://registry.internal.example:5000/v2/ml/ray/manifests/2.53.0"' in (
        result.error
    )


def test_unknown_registry_host_does_not_resolve(catalogue: ImageCatalogue) -> None:
    result = catalogue.resolve("registry.nowhere.invalid/ray:1")
    assert result.outcome is PullOutcome.NO_SUCH_HOST
    assert "lookup registry.nowhere.invalid" in result.error
    assert result.error.endswith("no such host")


@pytest.mark.parametrize("image", ["Ray:2.53.0", "rayproject/ray:", "ray project/ray", ":tag"])
def test_unparsable_references_are_invalid_image_names(image: str) -> None:
    with pytest.raises(InvalidImageNameError, match="invalid reference format"):
        parse_image(image)


@pytest.mark.parametrize(
    ("image", "policy"),
    [("rayproject/ray", "Always"), ("rayproject/ray:latest", "Always"),
     ("rayproject/ray:2.53.0", "IfNotPresent")],
)  # fmt: skip
def test_pull_policy_defaults_like_the_api_server(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


def test_catalogue_is_configurable() -> None:
    config = ImageCatalogueConfig(
        ray_releases=["2.53.0"],
        include_ray_ml=True,
        extra=["ghcr.io/acme/ray:custom"],
        private_repositories=["ghcr.io/acme/secret"],
        unreachable_registries=[],
        crashing={},
    )
    catalogue = ImageCatalogue(config)
    assert catalogue.resolve("ghcr.io/acme/ray:custom").ok
    assert catalogue.resolve("rayproject/ray-ml:2.35.0-py310-gpu").ok
    assert not catalogue.resolve("rayproject/ray:2.52.0").ok
    assert catalogue.resolve("ghcr.io/acme/secret:1").outcome is PullOutcome.DENIED
    assert catalogue.resolve("registry.internal.example:5000/x:1").outcome is (
        PullOutcome.NO_SUCH_HOST
    )


def test_crash_specs_are_looked_up_by_normalised_reference(catalogue: ImageCatalogue) -> None:
    spec = catalogue.crash_spec("example.com/krayne/oom-ray")
    assert spec is not None and spec.reason == "OOMKilled" and spec.code == 137
    crash = catalogue.crash_spec(CRASHING_DEMO_IMAGE)
    assert crash is not None and crash.code == 1
    assert catalogue.crash_spec("rayproject/ray:2.53.0") is None


def test_releases_follow_rays_numbering_up_to_the_newest() -> None:
    releases = ImageCatalogueConfig().releases()
    assert releases[0] == "2.0.0" and releases[-1] == "2.60.0"
    assert releases[releases.index("2.12.0") + 1] == "2.20.0"  # Ray skipped 2.13-2.19
    assert {"2.9.3", "2.49.2", "2.52.1", "2.58.0"} <= set(releases)


def test_latest_follows_the_newest_configured_release() -> None:
    catalogue = ImageCatalogue(ImageCatalogueConfig(newest_ray_release="2.54.0"))
    assert catalogue.resolve("rayproject/ray:2.54.0-py312-gpu").ok
    assert not catalogue.resolve("rayproject/ray:2.55.0-py312").ok
    assert catalogue.resolve("rayproject/ray:latest-py313").ok


def test_the_default_image_the_catalogue_and_ray_version_move_in_step() -> None:
    """The bot defaults to the newest Ray release, as the Krayne CLI/SDK does; the sandbox's
    catalogue must pull exactly that image, or a newcomer's first cluster ends in
    ImagePullBackOff."""
    from bot.settings import BotSettings
    from core.config import build_config
    from core.sandbox.sim.images import ImageCatalogue
    from core.sandbox.sim.simconfig import NEWEST_RAY_RELEASE, SimConfig
    from manifests.raycluster import (
        DEFAULT_PYTHON_TAG,
        DEFAULT_RAY_VERSION,
        build_raycluster,
        default_image,
    )

    assert DEFAULT_RAY_VERSION == NEWEST_RAY_RELEASE
    settings = BotSettings.load({})
    assert (settings.ray_version, settings.python_tag) == (DEFAULT_RAY_VERSION, DEFAULT_PYTHON_TAG)
    catalogue = ImageCatalogue(SimConfig.default().images)
    for gpu in (False, True):
        assert catalogue.resolve(default_image(DEFAULT_RAY_VERSION, DEFAULT_PYTHON_TAG, gpu=gpu)).ok
    manifest = build_raycluster(build_config({"name": "demo"}))
    assert manifest["spec"]["rayVersion"] == DEFAULT_RAY_VERSION
