"""Text and YAML read as plain data: what the configuration file and manifest files are parsed with.

The safe loader, without YAML 1.1's implicit timestamps, and with every failure (invalid YAML,
nesting too deep, a value of no JSON type) turned into a :class:`ConfigError` that names the file
and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from reconciler.model.errors import ConfigError

__all__ = ["load_yaml_text", "read_text_file"]


class _TextLoader(yaml.SafeLoader):
    """YAML's safe loader without its timestamp type: ``ownerId: 2024-01-01`` stays a string
    (YAML 1.2 has no implicit timestamps either)."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml_text(text: str, *, what: str, many: bool = False) -> Any:
    """Parse YAML (one document, or every document when ``many``) into plain JSON-like values.

    Raise ConfigError naming ``what`` for invalid YAML, nesting too deep to read, and values that
    are no JSON type (``!!binary``, ``!!set``, …), each with the key where it sits.
    """
    try:
        data: Any = (
            list(yaml.load_all(text, Loader=_TextLoader))
            if many
            else yaml.load(text, Loader=_TextLoader)  # noqa: S506 - a SafeLoader subclass
        )
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} is not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{what}: the YAML is nested too deeply to read") from None
    try:
        _check_plain(data, "")
    except RecursionError:
        raise ConfigError(f"{what}: the YAML is nested too deeply to read") from None
    return data


def _check_plain(value: Any, where: str) -> None:
    """Raise ConfigError when ``value`` holds anything but JSON's types (keys must be text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where or 'the top level'}: key {key!r} must be text")
            _check_plain(item, f"{where}.{key}" if where else key)
        return
    kind = "binary data" if isinstance(value, bytes) else f"a {type(value).__name__}"
    raise ConfigError(f"{where or 'the document'}: {kind} is not allowed here; write text")


def read_text_file(path: Path, *, option: str) -> str:
    """The UTF-8 text of ``path``; ConfigError naming ``option`` and the file when it cannot be
    read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{option}: cannot read {str(path)!r} ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{option}: {str(path)!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
