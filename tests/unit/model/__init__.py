"""Unit tests of `reconciler/model/`."""
