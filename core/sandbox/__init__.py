"""A local Kubernetes API server with a simulated KubeRay operator, for the shell and the tests.

``store`` holds the objects and fans out watches; ``apiserver`` speaks the Kubernetes HTTP API
(kubectl and kubernetes-asyncio both work against it); ``runner.Sandbox`` wires store, server and
simulation together and writes a kubeconfig. Production code paths never import this package.
"""
