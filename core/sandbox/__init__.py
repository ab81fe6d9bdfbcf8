"""A local Kubernetes API server with a simulated KubeRay operator, for the shell and the tests.

``apiserver/`` is the API server (``store`` holds the objects and fans out watches, ``server``
speaks the Kubernetes HTTP API to kubectl and kubernetes-asyncio); ``sim/`` holds the controllers
that act on what it stores (KubeRay operator, scheduler, kubelet); ``runner.Sandbox`` wires them
together and writes a kubeconfig. No product module imports this package (import-linter).
"""
