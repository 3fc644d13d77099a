"""The composition root: the CLI, settings, wiring of clients and stages, output."""
