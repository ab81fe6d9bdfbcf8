"""The shared sandbox fixture, for running the shell against a cluster given by --kubeconfig."""

from tests.sandbox_fixtures import sandbox  # noqa: F401  (the fixture, re-exported)
