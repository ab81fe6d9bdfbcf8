"""The image catalogue: which references pull, how big they are, and how a failed pull reads.

Pure functions over a ``ImageCatalogueConfig``: the kubelet asks ``resolve(image)`` and gets the
outcome containerd would give — the image's size and digest, or the exact error text kubelet
puts into ``ErrImagePull`` (not found, pull access denied / 401, registry timeout, unknown host),
or ``InvalidImageName`` for references that do not parse. The default catalogue serves the real
``rayproject/ray`` tags of every release by the tag scheme's rule (``-pyXYZ``, ``-cpu``, ``-gpu``,
``-cuXYZ``, ``-aarch64``), and can answer Docker Hub's 429 rate limit for the first pulls.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from core.sandbox.sim.simconfig import CrashSpec, ImageCatalogueConfig

DOCKER_HUB = "docker.io"
GIB = 1 << 30
# Registries that exist on the simulated internet; any other host fails DNS resolution.
KNOWN_REGISTRIES = (
    "docker.io", "gcr.io", "ghcr.io", "quay.io", "nvcr.io", "registry.k8s.io", "public.ecr.aws",
    "example.com",
)  # fmt: skip
KNOWN_REGISTRY_SUFFIXES = ("-docker.pkg.dev", ".gcr.io", ".amazonaws.com", ".azurecr.io")
RAY_ML_RELEASES = ("2.30.0", "2.31.0", "2.32.0", "2.33.0", "2.34.0", "2.35.0")
# Docker official images a user may try with `kubectl run`: any tag pulls.
OFFICIAL_IMAGES = ("busybox", "alpine", "ubuntu", "debian", "python", "nginx", "redis", "postgres")

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^(?P<name>{_COMPONENT}(?:/{_COMPONENT})*|[a-zA-Z0-9.-]+(?::[0-9]+)?(?:/{_COMPONENT})+)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


class InvalidImageNameError(ValueError):
    """The reference does not parse; ``str()`` is kubelet's InvalidImageName message."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    image: str  # as written in the pod spec
    registry: str
    repository: str  # path inside the registry, e.g. "rayproject/ray" or "library/ubuntu"
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def full(self) -> str:
        """containerd's fully qualified form: ``docker.io/rayproject/ray:2.53.0``."""
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or 'latest'}"


def parse_image(image: str) -> ImageRef:
    match = _REFERENCE.fullmatch(image)
    if match is None:
        raise InvalidImageNameError(
            f'Failed to apply default image tag "{image}": couldn\'t parse image name '
            f'"{image}": invalid reference format'
        )
    name = match["name"]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    tag = match["tag"]
    if tag is None and match["digest"] is None:
        tag = "latest"
    return ImageRef(image, registry, repository, tag, match["digest"])


def default_pull_policy(image: str) -> str:
    """The API server's default: ``Always`` for ``:latest`` or untagged images."""
    try:
        ref = parse_image(image)
    except InvalidImageNameError:
        return "IfNotPresent"
    return "Always" if ref.digest is None and ref.tag == "latest" else "IfNotPresent"


class PullOutcome(StrEnum):
    OK = "ok"
    NOT_FOUND = "not-found"
    DENIED = "denied"
    TIMEOUT = "timeout"
    NO_SUCH_HOST = "no-such-host"
    RATE_LIMITED = "rate-limited"  # 429 toomanyrequests: a later retry succeeds


@dataclass(frozen=True, slots=True)
class PullResult:
    ref: ImageRef
    outcome: PullOutcome
    size_bytes: int = 0
    digest: str = ""
    error: str = ""  # containerd's error, as kubelet reports it

    @property
    def ok(self) -> bool:
        return self.outcome is PullOutcome.OK

    @property
    def image_id(self) -> str:
        return f"{self.ref.name}@{self.digest}"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _size(full: str, gpu: bool, ml: bool) -> int:
    spread = int(hashlib.sha256(full.encode()).hexdigest()[:6], 16) / 0xFFFFFF
    base = 9.5 if ml else 4.6 if gpu else 1.05
    return int((base + spread * (1.0 if ml else 0.6 if gpu else 0.3)) * GIB)


def ray_pythons(release: str) -> tuple[tuple[str, ...], str]:
    """Python tags of a Ray release's images and the one the bare tag points to.

    Python 3.9 images stopped and 3.13 images started with Ray 2.52; before that py39 was the
    default behind the bare ``x.y.z`` tag, afterwards py310. Releases before 2.11 shipped
    py38..py311 with py38 behind the bare tag.
    """
    parts = tuple(int(p) for p in release.split(".")[:2])
    if parts >= (2, 52):
        return ("py310", "py311", "py312", "py313"), "py310"
    if parts < (2, 11):
        return ("py38", "py39", "py310", "py311"), "py38"
    return ("py39", "py310", "py311", "py312"), "py39"


def ray_cuda_platforms(release: str) -> tuple[str, ...]:
    """``-cuXYZ`` platform tags of a release's GPU images.

    ray-project/ray ci/ray_ci/docker_container.py, ``PLATFORMS_RAY`` and ``_get_platform_tag``
    (``cu12.8.1-cudnn`` -> ``cu128``): the list grew over the releases; ``-gpu`` aliases one.
    """
    parts = tuple(int(p) for p in release.split(".")[:2])
    if parts >= (2, 50):
        return ("cu117", "cu118", "cu121", "cu123", "cu124", "cu125", "cu126", "cu128", "cu129")
    if parts >= (2, 47):
        return ("cu117", "cu118", "cu121", "cu123", "cu124", "cu125", "cu126", "cu128")
    if parts >= (2, 20):
        return ("cu117", "cu118", "cu121", "cu123")
    return ("cu112", "cu116", "cu118")


# {version}[-extra][-pyXY][-cpu|-gpu|-cuXYZ][-aarch64]: docker_container.py's _get_image_tags
_RAY_TAG = re.compile(
    r"^(?P<version>latest|nightly|\d+\.\d+\.\d+)(?P<extra>-extra)?(?:-(?P<py>py3\d+))?"
    r"(?:-(?P<platform>cpu|gpu|cu\d+))?(?P<arch>-aarch64)?$"
)


def ray_tag_exists(tag: str, releases: frozenset[str], newest: str | None, *, ml: bool) -> bool:
    """Whether rayproject/ray (or ray-ml) publishes ``tag``, by the tag scheme's rule."""
    match = _RAY_TAG.fullmatch(tag)
    if match is None:
        return False
    version = match["version"]
    if version in ("latest", "nightly"):
        if newest is None:
            return False
        version = newest
    elif version not in releases:
        return False
    if ml:  # ray-ml: py39..py311, cpu and cu121 (PLATFORMS_RAY_ML), x86_64 only
        pythons: tuple[str, ...] = ("py39", "py310", "py311")
        platforms: tuple[str, ...] = ("cpu", "gpu", "cu121")
        if match["arch"] or match["extra"]:
            return False
    else:
        pythons, platforms = ray_pythons(version)[0], ("cpu", "gpu", *ray_cuda_platforms(version))
        if match["extra"] and tuple(int(p) for p in version.split(".")[:2]) < (2, 47):
            return False
    return (match["py"] is None or match["py"] in pythons) and (
        match["platform"] is None or match["platform"] in platforms
    )


def rate_limit_error(ref: ImageRef, digest: str) -> str:
    """containerd's error for Docker Hub's 429, as kubelet puts it into ErrImagePull.

    Wording as kubelets report it (e.g. namespacelabs/foundation#846): containerd's remotes
    fetcher (core/remotes/docker/fetcher.go, httpReadSeeker) opens the manifest by digest.
    """
    host = "registry-1.docker.io" if ref.registry == DOCKER_HUB else ref.registry
    return (
        f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref.full}": '
        f"failed to copy: httpReadSeeker: failed open: unexpected status code "
        f"https://{host}/v2/{ref.repository}/manifests/{digest}: 429 Too Many Requests - "
        "Server message: toomanyrequests: You have reached your pull rate limit. You may "
        "increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"
    )


class ImageCatalogue:
    """Answers ``resolve(image)`` the way the registries behind containerd would."""

    def __init__(self, config: ImageCatalogueConfig) -> None:
        self.config = config
        releases = config.releases()
        self._releases = frozenset(releases)
        self._newest = releases[-1] if releases else None
        self._ray_repos = {f"{DOCKER_HUB}/rayproject/ray": False}
        if config.include_ray_ml:
            self._ray_repos[f"{DOCKER_HUB}/rayproject/ray-ml"] = True
        self._ml_releases = frozenset(RAY_ML_RELEASES)
        self._exact: set[str] = set()
        for image in [*config.extra, *config.crashing]:
            ref = parse_image(image)
            self._exact.add(ref.full)
        self._crashing = {parse_image(i).full: spec for i, spec in config.crashing.items()}
        self._private = {self._repo_key(r) for r in config.private_repositories}
        self._unreachable = set(config.unreachable_registries)
        self._rate_left = {parse_image(i).full: n for i, n in config.rate_limited.items()}

    def throttle(self, result: PullResult) -> PullResult:
        """A pull that reaches the registry: the first N of a rate-limited image get a 429."""
        left = self._rate_left.get(result.ref.full, 0)
        if not result.ok or left <= 0:
            return result
        self._rate_left[result.ref.full] = left - 1
        error = rate_limit_error(result.ref, _digest(result.ref.full + "/linux/amd64"))
        return PullResult(result.ref, PullOutcome.RATE_LIMITED, error=error)

    @staticmethod
    def _repo_key(text: str) -> str:
        ref = parse_image(text)
        return ref.name

    def crash_spec(self, image: str) -> CrashSpec | None:
        try:
            return self._crashing.get(parse_image(image).full)
        except InvalidImageNameError:
            return None

    def resolve(self, image: str) -> PullResult:
        """Outcome of pulling ``image``; raises InvalidImageNameError for unparsable references."""
        ref = parse_image(image)
        full = ref.full
        if ref.registry in self._unreachable:
            return PullResult(ref, PullOutcome.TIMEOUT, error=_timeout_error(ref))
        if not _registry_exists(ref.registry):
            return PullResult(ref, PullOutcome.NO_SUCH_HOST, error=_no_such_host_error(ref))
        if full in self._exact or _official(ref):
            return PullResult(ref, PullOutcome.OK, _size(full, False, False), _digest(full))
        ml = self._ray_repos.get(ref.name)
        if ref.name in self._private or ml is None:
            return PullResult(ref, PullOutcome.DENIED, error=_denied_error(ref))
        releases = self._ml_releases if ml else self._releases
        newest = RAY_ML_RELEASES[-1] if ml else self._newest
        if (
            ref.tag is not None
            and ref.digest is None
            and ray_tag_exists(ref.tag, releases, newest, ml=ml)
        ):
            gpu = "-gpu" in ref.tag or ref.name.endswith("ray-ml")
            size = _size(full, gpu, ref.name.endswith("ray-ml"))
            return PullResult(ref, PullOutcome.OK, size, _digest(full))
        return PullResult(ref, PullOutcome.NOT_FOUND, error=_not_found_error(ref))


def _official(ref: ImageRef) -> bool:
    return ref.registry == DOCKER_HUB and ref.repository.removeprefix("library/") in OFFICIAL_IMAGES


def _registry_exists(host: str) -> bool:
    bare = host.split(":")[0]
    return (
        host in KNOWN_REGISTRIES
        or bare == "localhost"
        or any(bare.endswith(s) for s in KNOWN_REGISTRY_SUFFIXES)
    )


def _prefix(ref: ImageRef, code: str) -> str:
    return (
        f'rpc error: code = {code} desc = failed to pull and unpack image "{ref.full}": '
        f'failed to resolve reference "{ref.full}": '
    )


def _manifest_url(ref: ImageRef) -> str:
    host = "registry-1.docker.io" if ref.registry == DOCKER_HUB else ref.registry
    return f"https://{host}/v2/{ref.repository}/manifests/{ref.digest or ref.tag}"


def _not_found_error(ref: ImageRef) -> str:
    return _prefix(ref, "NotFound") + f"{ref.full}: not found"


def _denied_error(ref: ImageRef) -> str:
    if ref.registry == DOCKER_HUB:
        return _prefix(ref, "Unknown") + (
            "pull access denied, repository does not exist or may require authorization: "
            "server message: insufficient_scope: authorization failed"
        )
    scope = quote(f"repository:{ref.repository}:pull", safe="")
    return _prefix(ref, "Unknown") + (
        "failed to authorize: failed to fetch anonymous token: unexpected status from GET request "
        f"to https://{ref.registry}/token?scope={scope}&service={ref.registry}: 401 Unauthorized"
    )


def _timeout_error(ref: ImageRef) -> str:
    port = ref.registry.partition(":")[2] or "443"
    octet = int(hashlib.sha256(ref.registry.encode()).hexdigest()[:2], 16)
    return _prefix(ref, "Unknown") + (
        f'failed to do request: Head "{_manifest_url(ref)}": '
        f"dial tcp 10.128.0.{octet}:{port}: i/o timeout"
    )


def _no_such_host_error(ref: ImageRef) -> str:
    host = ref.registry.split(":")[0]
    return _prefix(ref, "Unknown") + (
        f'failed to do request: Head "{_manifest_url(ref)}": '
        f"dial tcp: lookup {host} on 169.254.169.254:53: no such host"
    )
