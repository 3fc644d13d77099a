"""Manifest source: Ingress objects (with their status) read from YAML files, for offline previews.

``what DNS would this pull request produce?``: point ``--manifests`` at a file or a directory of
``*.yaml``/``*.yml``/``*.json`` files (read in sorted order, sub-directories included). Files may
hold several documents, and ``kind: List`` objects are unpacked. Objects that are not
networking.k8s.io Ingresses are ignored; an unreadable file or invalid YAML is a
:class:`~reconciler.model.errors.ConfigError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from reconciler.model.errors import ConfigError
from reconciler.model.k8s_json import IngressDict
from reconciler.model.yaml_text import load_yaml_text, read_text_file

__all__ = [
    "MANIFEST_SUFFIXES",
    "ingresses_among",
    "ingresses_from_text",
    "objects_from_text",
    "read_ingresses",
    "read_objects",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
"""File name endings read from a directory."""


def _is_ingress(obj: dict[str, Any]) -> bool:
    api_version = obj.get("apiVersion", "networking.k8s.io/v1")
    return (
        obj.get("kind") == "Ingress"
        and isinstance(api_version, str)
        and api_version.startswith(("networking.k8s.io/", "extensions/"))
    )


def _walk(obj: object) -> Iterator[dict[str, Any]]:
    if not isinstance(obj, dict):
        return
    if obj.get("kind") == "List" or (
        isinstance(obj.get("kind"), str) and str(obj.get("kind")).endswith("List")
    ):
        for item in obj.get("items") or []:
            yield from _walk(item)
        return
    yield obj


def objects_from_text(text: str, *, origin: str = "<text>") -> list[dict[str, Any]]:
    """Every object of a (multi-document) YAML text, Lists unpacked; ConfigError when invalid."""
    documents = load_yaml_text(text, what=f"--manifests: {origin}", many=True)
    return [obj for document in documents for obj in _walk(document)]


def ingresses_from_text(text: str, *, origin: str = "<text>") -> list[IngressDict]:
    """Every Ingress in a (multi-document) YAML text; ConfigError naming ``origin`` when invalid."""
    return ingresses_among(objects_from_text(text, origin=origin))


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES
        )
    if path.is_file():
        return [path]
    raise ConfigError(f"--manifests: {str(path)!r} is neither a file nor a directory")


def read_objects(path: Path | str) -> list[dict[str, Any]]:
    """Every object in the file or directory ``path`` (Lists unpacked), in file order."""
    result: list[dict[str, Any]] = []
    for file in _files(Path(path)):
        text = read_text_file(file, option="--manifests")
        result.extend(objects_from_text(text, origin=repr(str(file))))
    return result


def ingresses_among(objects: Iterable[dict[str, Any]]) -> list[IngressDict]:
    """The networking.k8s.io Ingresses among ``objects``, in order."""
    return [cast(IngressDict, obj) for obj in objects if _is_ingress(obj)]


def read_ingresses(path: Path | str) -> list[IngressDict]:
    """Every Ingress in the file or directory ``path``, in file order."""
    return ingresses_among(read_objects(path))
