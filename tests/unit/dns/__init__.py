"""Unit tests of `reconciler/dns/`."""
