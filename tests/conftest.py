"""Test-suite wiring: the real servers' fixtures live in tests/fixtures/, one module per server."""

pytest_plugins = ["tests.fixtures.bind", "tests.fixtures.moto", "tests.fixtures.kube"]
