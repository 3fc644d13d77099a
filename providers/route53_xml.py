"""Route53 change batches rendered to XML directly, byte for byte what botocore would send.

botocore serialises a request by walking the service model node by node into an ElementTree:
for a batch of 1,000 changes that walk is most of the CPU a write costs (at 10,000 Ingresses
about a second of a creating pass). :func:`request_body` renders the same body from the same
model with string joins: the element names, list member names and XML namespace come from the
operation's input shape, the values are written as botocore writes them (``str()`` of strings
and numbers, ``true``/``false`` for booleans, ``&``, ``<`` and ``>`` escaped as ElementTree
escapes text, ``<Name />`` for an empty element). Whatever it does not render exactly as
botocore does (maps, flattened lists, XML attributes, timestamps, blobs, floats, a ``None``
inside a structure, text that UTF-8 cannot encode) makes it return None, and botocore
serialises that request itself.

:func:`install` puts it in front of one client's ``ChangeResourceRecordSets`` through botocore's
documented events: ``before-parameter-build`` renders the body and takes the body's parameters
out of the call (botocore then serialises only the hosted zone id, into the URL), and
``before-call`` puts the rendered body into the request. Nothing else about the request changes:
URL, headers, signing, the response and its errors are botocore's. A client that validates
parameters keeps botocore's serialiser (validation reads the parameters taken out of the call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.model import OperationModel, Shape
    from mypy_boto3_route53 import Route53Client

__all__ = ["OPERATION", "install", "request_body"]

OPERATION: Final = "ChangeResourceRecordSets"
_CONTEXT_KEY: Final = "ingress_reconciler.route53_xml.body"
_UNIQUE: Final = "ingress_reconciler.route53_xml"

Compiled = dict[tuple[str, str], "_Element"]
"""The renderers compiled for one operation, by (shape name, element name)."""

_COMPILED: dict[tuple[str, str, str], Compiled] = {}
"""Per operation of a service model version."""


class _UnsupportedError(Exception):
    """Something this renderer does not write exactly as botocore does."""


def _text(value: str) -> str:
    # xml.etree.ElementTree's _escape_cdata
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def _attribute(value: str) -> str:
    # xml.etree.ElementTree's _escape_attrib
    value = _text(value)
    for raw, escaped in (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;")):
        if raw in value:
            value = value.replace(raw, escaped)
    return value


def _namespace(shape: Shape) -> str:
    """The ``xmlns`` attribute botocore gives an element of ``shape`` ('' when none)."""
    namespace = shape.serialization.get("xmlNamespace")
    if isinstance(namespace, dict):
        name = "xmlns:" + namespace["prefix"] if namespace.get("prefix") else "xmlns"
        return f' {name}="{_attribute(str(namespace["uri"]))}"'
    if isinstance(namespace, str):
        return f' xmlns="{_attribute(namespace)}"'
    return ""


class _Element:
    """Writes values of one shape as one element: here the scalars botocore writes with
    ``str()`` (strings, integers, longs); the subclasses the other kinds."""

    def __init__(self, shape: Shape, name: str, compiled: Compiled) -> None:
        self.shape = shape
        self.compiled = compiled
        self.opening = f"<{name}{_namespace(shape)}>"
        self.closing = f"</{name}>"
        self.empty = f"<{name}{_namespace(shape)} />"

    def render(self, value: Any, out: list[str]) -> None:
        text = str(value)
        if not text:
            out.append(self.empty)
        elif "&" in text or "<" in text or ">" in text:
            out.append(f"{self.opening}{_text(text)}{self.closing}")
        else:
            out.append(f"{self.opening}{text}{self.closing}")

    def _close(self, out: list[str], mark: int) -> None:
        """End the element opened at ``out[mark]``: ``<Name />`` when nothing went in it."""
        if len(out) == mark + 1:
            out[mark] = self.empty
        else:
            out.append(self.closing)


class _Boolean(_Element):
    def render(self, value: Any, out: list[str]) -> None:
        out.append(f"{self.opening}{'true' if value else 'false'}{self.closing}")


class _Unsupported(_Element):
    def render(self, value: Any, out: list[str]) -> None:
        raise _UnsupportedError


class _Structure(_Element):
    def __init__(self, shape: Shape, name: str, compiled: Compiled) -> None:
        super().__init__(shape, name, compiled)
        self.members: dict[str, _Element] = {}
        """Compiled on first use (so a recursive shape compiles once)."""

    def render(self, value: Any, out: list[str]) -> None:
        if not isinstance(value, Mapping):
            raise _UnsupportedError
        members = self.members
        mark = len(out)
        out.append(self.opening)
        for member_name, member_value in value.items():
            if member_value is None:  # botocore stops writing a structure at a None member
                raise _UnsupportedError
            member = members.get(member_name)
            if member is None:
                member = members[member_name] = self._member(member_name)
            member.render(member_value, out)
        self._close(out, mark)

    def _member(self, member_name: str) -> _Element:
        member = self.shape.members.get(member_name)  # type: ignore[attr-defined]
        if member is None or member.serialization.get("xmlAttribute"):
            raise _UnsupportedError
        return _compile(member, member.serialization.get("name", member_name), self.compiled)


class _List(_Element):
    def render(self, value: Any, out: list[str]) -> None:
        if isinstance(value, (str, bytes, Mapping)):
            raise _UnsupportedError
        item_shape = self.shape.member  # type: ignore[attr-defined]
        item = _compile(item_shape, item_shape.serialization.get("name", "member"), self.compiled)
        mark = len(out)
        out.append(self.opening)
        for each in value:
            item.render(each, out)
        self._close(out, mark)


def _compile(shape: Shape, name: str, compiled: Compiled) -> _Element:
    """The renderer of ``shape`` as element ``name`` (memoised in ``compiled``)."""
    key = (shape.name, name)
    element = compiled.get(key)
    if element is None:
        kind = shape.type_name
        if kind == "structure":
            element = _Structure(shape, name, compiled)
        elif kind == "list" and not shape.serialization.get("flattened"):
            element = _List(shape, name, compiled)
        elif kind == "boolean":
            element = _Boolean(shape, name, compiled)
        elif kind in ("string", "integer", "long"):
            element = _Element(shape, name, compiled)
        else:  # maps, flattened lists, timestamps, blobs, floats
            element = _Unsupported(shape, name, compiled)
        compiled[key] = element
    return element


def _model_key(operation: OperationModel) -> tuple[str, str, str]:
    service = operation.service_model
    return (str(service.service_id), str(service.api_version), operation.name)


def request_body(operation: OperationModel, body_params: Mapping[str, Any]) -> bytes | None:
    """The XML body botocore would send for ``body_params`` (the input's members that go in the
    body), or None when this renderer does not write them exactly as botocore does."""
    shape = operation.input_shape
    if shape is None or shape.serialization.get("payload") or not body_params:
        return None
    out: list[str] = []
    try:
        compiled = _COMPILED.setdefault(_model_key(operation), {})
        _compile(shape, shape.serialization["name"], compiled).render(body_params, out)
        return "".join(out).encode("utf-8")
    except (_UnsupportedError, KeyError, UnicodeEncodeError):
        return None


def _body_members(operation: OperationModel, params: Mapping[str, Any]) -> list[str]:
    shape = operation.input_shape
    members = shape.members if shape is not None else {}
    return [
        key
        for key, value in params.items()
        if value is not None
        and key in members
        and members[key].serialization.get("location") is None
    ]


def _render_body(
    params: dict[str, Any], model: OperationModel, context: dict[str, Any], **_: Any
) -> None:
    keys = _body_members(model, params)
    body = request_body(model, {key: params[key] for key in keys})
    if body is None:
        return
    context[_CONTEXT_KEY] = body
    for key in keys:
        del params[key]


def _use_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    body = context.pop(_CONTEXT_KEY, None)
    if body is not None:
        params["body"] = body


def install(client: Route53Client, config: Config) -> bool:
    """Render the ChangeResourceRecordSets bodies of ``client``, built with ``config``, here
    (idempotent). False, and nothing changed, when ``config`` keeps botocore's parameter
    validation: validation reads the parameters this takes out of the call."""
    if getattr(config, "parameter_validation", True) is not False:
        return False
    service = client.meta.service_model.service_id.hyphenize()
    events = client.meta.events
    events.register(
        f"before-parameter-build.{service}.{OPERATION}", _render_body, unique_id=_UNIQUE + ".render"
    )
    events.register(f"before-call.{service}.{OPERATION}", _use_body, unique_id=_UNIQUE + ".use")
    return True
