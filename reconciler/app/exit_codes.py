"""The exit codes of the ``ingress-reconciler`` command."""

from __future__ import annotations

from reconciler.runtime import loop

__all__ = ["EXIT_FAILURE", "EXIT_LEADERSHIP_LOST", "EXIT_OK", "EXIT_USAGE"]

EXIT_OK = 0
"""Success (``once``: every provider's part of the pass succeeded)."""
EXIT_FAILURE = 1
"""A runtime failure: a provider or the cluster failed."""
EXIT_USAGE = 2
"""Bad configuration or command line; the message says which key and why."""
EXIT_LEADERSHIP_LOST = loop.EXIT_LEADERSHIP_LOST
"""``run`` lost the leader lease (the pod restarts as a standby)."""
