"""A local stand-in for the Slack Web API, strict like real Slack, for the tests and the shell.

Only the shell and the tests import it; no product module does, and it imports nothing from ``bot``.
"""
