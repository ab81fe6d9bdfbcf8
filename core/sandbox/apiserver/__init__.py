"""The sandbox's Kubernetes API server: storage, HTTP endpoints, discovery, watches, RBAC.

It knows nothing of KubeRay or kubelets: it stores, validates and serves objects the way
kube-apiserver does. The controllers that act on those objects live in ``core.sandbox.sim``.
"""
