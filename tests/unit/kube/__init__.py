"""Unit tests of `reconciler/kube/`."""
