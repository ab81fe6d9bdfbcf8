"""A sandbox that enforces RBAC, loaded with deploy/'s RBAC, and the bot's identity on it.

``deployed()`` starts a sandbox on the test's loop, creates the namespace, ServiceAccount,
Roles and RoleBindings that ``kubectl kustomize deploy/`` renders (with ``kubectl apply``, or
straight into the store when speed matters), enforces RBAC, mints a token for the rendered
ServiceAccount and connects the bot's own Kubernetes client with a kubeconfig holding only
that token.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.kube_asyncio import KubernetesAsyncioClient, connect
from core.sandbox.apiserver.apierror import ApiError
from core.sandbox.apiserver.authz_types import RequestAttributes
from core.sandbox.apiserver.rbac import enforce_rbac, issue_service_account_token, rbac_sandbox
from core.sandbox.runner import Sandbox
from tests.deploy.deployfiles import DEPLOY, kubectl, render, render_with

SANDBOX_SPEED = 40.0
RBAC_KINDS = ("Namespace", "ServiceAccount", "Role", "RoleBinding")


def rbac_objects(
    components: Sequence[str] = (), workdir: Path | None = None
) -> list[dict[str, Any]]:
    """The RBAC objects of the HTTP variant, with ``components`` enabled (needs ``workdir``)."""
    if components:
        assert workdir is not None
        objects = render_with(DEPLOY, list(components), workdir)
    else:
        objects = render(DEPLOY)
    return [o for o in objects if o["kind"] in RBAC_KINDS]


def bot_account(objects: list[dict[str, Any]]) -> tuple[str, str]:
    (account,) = [o for o in objects if o["kind"] == "ServiceAccount"]
    return account["metadata"]["namespace"], account["metadata"]["name"]


def managed_role(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The Role granting the cluster work: the one outside the bot's own namespace."""
    bot_namespace, _ = bot_account(objects)
    (role,) = [
        o for o in objects
        if o["kind"] == "Role" and o["metadata"]["namespace"] != bot_namespace
    ]
    return role


def load_objects(sandbox: Sandbox, objects: list[dict[str, Any]]) -> None:
    """Store the objects as the cluster admin would create them. (Not with ``kubectl apply``:
    kubectl never sends a bearer token to a plain-HTTP server, and the sandbox has no TLS.)"""
    for obj in objects:
        resource = obj["kind"].lower() + "s"
        try:
            sandbox.store.create(resource, copy.deepcopy(obj))
        except ApiError as err:
            if err.code != 409 or obj["kind"] != "Namespace":
                raise


async def kubectl_apply(sandbox: Sandbox, objects: list[dict[str, Any]], cache: Path) -> str:
    """``kubectl apply -f -`` as the sandbox admin, without blocking the sandbox's loop."""
    proc = await asyncio.create_subprocess_exec(
        kubectl(), "--kubeconfig", str(sandbox.kubeconfig_path), "--cache-dir", str(cache),
        "apply", "-f", "-",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate(yaml.safe_dump_all(objects).encode())
    assert proc.returncode == 0, f"kubectl apply failed:\n{err.decode()}"
    return out.decode()


def token_kubeconfig(sandbox: Sandbox, token: str, path: Path, *, user: str) -> Path:
    """The sandbox's kubeconfig with its admin credentials swapped for ``token``."""
    config = yaml.safe_load(sandbox.kubeconfig_path.read_text())
    config["users"] = [{"name": user, "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = user
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@dataclass
class Deployed:
    sandbox: Sandbox
    client: KubernetesAsyncioClient  # authenticated as the bot's ServiceAccount, nothing more
    kubeconfig: Path
    objects: list[dict[str, Any]]
    denied: list[str] = field(default_factory=list)  # every 403 message the server sent

    @property
    def namespace(self) -> str:
        """The managed namespace, where clusters are created."""
        return str(managed_role(self.objects)["metadata"]["namespace"])

    def set_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace the managed Role's rules, as an admin editing rbac.yaml would."""
        role = managed_role(self.objects)
        stored = self.sandbox.store.get("roles", role["metadata"]["namespace"],
                                        role["metadata"]["name"])
        stored["rules"] = copy.deepcopy(rules)
        self.sandbox.store.update("roles", stored)


@asynccontextmanager
async def deployed(
    tmp_path: Path, components: Sequence[str] = (), *, with_kubectl: bool = False
) -> AsyncIterator[Deployed]:
    """``with_kubectl``: the objects go in with ``kubectl apply`` while the sandbox is still
    open, then RBAC is switched on (slower; otherwise they are stored directly, already
    enforcing)."""
    objects = rbac_objects(components, tmp_path)
    kubeconfig = tmp_path / "admin.kubeconfig"
    sandbox_cm = (
        Sandbox(speed=SANDBOX_SPEED, kubeconfig_out=kubeconfig) if with_kubectl
        else rbac_sandbox(speed=SANDBOX_SPEED, kubeconfig_out=kubeconfig)
    )  # fmt: skip
    async with sandbox_cm as sandbox:
        if with_kubectl:
            applied = await kubectl_apply(sandbox, objects, tmp_path / "kube-cache")
            assert applied.count(" created") == len(objects), applied
            enforce_rbac(sandbox)
        else:
            load_objects(sandbox, objects)
        namespace, name = bot_account(objects)
        token = issue_service_account_token(sandbox.store, namespace, name)
        path = token_kubeconfig(sandbox, token, tmp_path / "bot.kubeconfig", user=name)
        client = await connect(str(path), request_timeout=5)
        env = Deployed(sandbox, client, path, objects)
        assert sandbox.server is not None and sandbox.server.authorizer is not None
        authorize = sandbox.server.authorizer

        def recording(attrs: RequestAttributes) -> str | None:
            refusal = authorize(attrs)
            if refusal is not None:
                env.denied.append(refusal)
            return refusal

        sandbox.server.authorizer = recording
        try:
            yield env
        finally:
            await client.close()
