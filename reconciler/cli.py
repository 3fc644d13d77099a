"""Command line and composition root (being written)."""


def main() -> int:
    """Entry point of the ``ingress-reconciler`` command."""
    return 0
