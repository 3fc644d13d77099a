"""Kubernetes access: the one package that talks to the official kubernetes client."""
