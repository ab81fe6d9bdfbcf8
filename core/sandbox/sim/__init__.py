"""The simulated cluster behind the sandbox API server: KubeRay operator, scheduler, kubelet, and
optionally node autoscalers (cluster-autoscaler, Karpenter) and Ray's in-tree autoscaler.

Each controller is a client of ``core.sandbox.apiserver.store`` as the real ones are of
kube-apiserver, and each rule names the upstream source it follows.
"""
