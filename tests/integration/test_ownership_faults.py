"""Hosts whose ownership cannot be written, and hosts in the ownership namespace, through the CLI.

Each case runs ``plan`` and ``once`` with manifests against the real BIND9: exactly the bad host is
refused with a reason (``conflicts`` in JSON, a rejection in the table), every good neighbour is
written, the foreign and pre-existing records are unchanged, and a second ``once`` changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e.servers.bind import BindServer, ZoneRecord
from tests.integration.test_cli_bind import ingress, invoke, records, write

pytestmark = pytest.mark.integration

OWNER_TXT = (
    '"heritage=external-dns,external-dns/owner=sample-cluster,'
    'external-dns/resource=ingress/web/{name}"'
)
FOREIGN = ZoneRecord("foreign.example.test", "A", 300, ("198.51.100.7",))
FOREIGN_TXT = ZoneRecord("a-foreign.example.test", "TXT", 300, ('"somebody else\'s note"',))
LONG_LABEL = "h" * 62
LONG_NAME = ".".join(["h" * 60] * 4)[:239].rstrip(".") + ".example.test"  # 252 bytes
LONG_INGRESS = "x" * 200


def _with_name(obj: dict[str, Any], name: str) -> dict[str, Any]:
    obj["metadata"]["name"] = name
    return obj


CASES = [
    pytest.param(
        ingress("bad", f"{LONG_LABEL}.example.test", ip="192.0.2.1"),
        f"{LONG_LABEL}.example.test",
        "first label",
        id="first-label-62",
    ),
    pytest.param(
        ingress("bad", f"{'h' * 63}.example.test", ip="192.0.2.1"),
        f"{'h' * 63}.example.test",
        "first label",
        id="first-label-63",
    ),
    pytest.param(ingress("bad", LONG_NAME, ip="192.0.2.1"), LONG_NAME, "253", id="host-252-bytes"),
    pytest.param(
        _with_name(ingress("bad", "long.example.test", ip="192.0.2.1"), LONG_INGRESS),
        "long.example.test",
        "255",
        id="txt-value-over-255",
    ),
    pytest.param(
        ingress("bad", "a-keep.example.test", ip="192.0.2.1"),
        "a-keep.example.test",
        "ownership",
        id="reserved-a-prefix",
    ),
    pytest.param(
        ingress("bad", "cname-keep.example.test", ip="192.0.2.1"),
        "cname-keep.example.test",
        "ownership",
        id="reserved-cname-prefix",
    ),
]


@pytest.mark.parametrize(("bad", "host", "words"), CASES)
def test_one_unownable_host_is_refused_alone(
    bind: BindServer, tmp_path: Path, bad: dict[str, Any], host: str, words: str
) -> None:
    bind.update("example.test", add=[FOREIGN, FOREIGN_TXT])
    manifests = write(
        tmp_path / "m",
        ingress("keep", "keep.example.test", ip="192.0.2.10"),
    )
    assert invoke(bind, "once", manifests=manifests)[0] == 0
    before = records(bind)
    write(
        manifests,
        ingress("keep", "keep.example.test", ip="192.0.2.10"),
        bad,
        ingress("good", "good.example.test", ip="192.0.2.20"),
    )

    code, out, err = invoke(bind, "plan", "--output", "json", manifests=manifests)
    assert code == 0, err
    doc = json.loads(out)
    refused = [c for c in doc["conflicts"] if c["name"] == host]
    assert refused, doc["conflicts"]
    assert all(words in c["message"] for c in refused), refused
    assert {(r["name"], r["type"]) for r in doc["create"]} == {
        ("good.example.test", "A"),
    }
    assert "Traceback" not in err

    code, out, err = invoke(bind, "once", manifests=manifests)
    assert code == 0, out + err
    after = records(bind)
    assert after[("good.example.test", "A")].values == ("192.0.2.20",)
    assert after[("a-good.example.test", "TXT")].values == (OWNER_TXT.format(name="good"),)
    assert after[("keep.example.test", "A")] == before[("keep.example.test", "A")]
    assert after[("a-keep.example.test", "TXT")] == before[("a-keep.example.test", "TXT")]
    assert after[(FOREIGN.name, "A")] == before[(FOREIGN.name, "A")]
    assert after[(FOREIGN_TXT.name, "TXT")] == before[(FOREIGN_TXT.name, "TXT")]
    assert not any(name == host and rtype != "TXT" for name, rtype in after)

    serial = bind.serial("example.test")
    code, out, _ = invoke(bind, "once", "--output", "json", manifests=manifests)
    assert code == 0
    doc = json.loads(out)
    assert (doc["create"], doc["update"], doc["delete"]) == ([], [], [])
    assert bind.serial("example.test") == serial


def test_a_reserved_host_cannot_delete_another_records_ownership(
    bind: BindServer, tmp_path: Path
) -> None:
    manifests = write(tmp_path / "m", ingress("keep", "keep.example.test", ip="192.0.2.10"))
    assert invoke(bind, "once", manifests=manifests)[0] == 0
    ownership = records(bind)[("a-keep.example.test", "TXT")]
    # An Ingress for the other record's ownership name comes and goes.
    write(
        manifests,
        ingress("keep", "keep.example.test", ip="192.0.2.10"),
        ingress("squat", "a-keep.example.test", ip="192.0.2.66"),
    )
    assert invoke(bind, "once", manifests=manifests)[0] == 0
    write(manifests, ingress("keep", "keep.example.test", ip="192.0.2.10"))
    assert invoke(bind, "once", manifests=manifests)[0] == 0
    zone = records(bind)
    assert zone[("a-keep.example.test", "TXT")] == ownership
    assert ("a-keep.example.test", "A") not in zone
    # the record is still ours: a new address is written
    write(manifests, ingress("keep", "keep.example.test", ip="192.0.2.11"))
    assert invoke(bind, "once", manifests=manifests)[0] == 0
    assert records(bind)[("keep.example.test", "A")].values == ("192.0.2.11",)
