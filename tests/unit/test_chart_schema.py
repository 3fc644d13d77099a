"""The chart's generated files are current, the generator refuses undocumented values, and the
Dockerfile has the essentials (non-root user, the CLI's ``run`` as entry point).

scripts/chart-schema is loaded as a module (it has no ``.py`` suffix: it is a command).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "ingress-reconciler"
SCRIPT = ROOT / "scripts" / "chart-schema"
CONFIG_PATH = "/etc/ingress-reconciler/config.yaml"


def load_generator() -> ModuleType:
    """scripts/chart-schema as a module."""
    loader = importlib.machinery.SourceFileLoader("chart_schema", str(SCRIPT))
    spec = importlib.util.spec_from_loader("chart_schema", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chart_schema"] = module  # dataclasses look their module up while being built
    loader.exec_module(module)
    return module


gen = load_generator()


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    """A copy of the chart to edit."""
    target = tmp_path / "chart"
    shutil.copytree(CHART, target)
    return target


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return data


# --- the committed files are what values.yaml gives ---------------------------------------------


def test_schema_and_readme_are_current() -> None:
    stale = gen.stale_files(CHART)
    assert stale == [], f"stale: {stale}; run scripts/chart-schema"


def test_check_command_exits_zero_on_the_committed_chart() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_a_changed_description_makes_both_files_stale(chart_copy: Path) -> None:
    values = chart_copy / "values.yaml"
    values.write_text(
        values.read_text().replace(
            "# -- Seconds between two full passes.", "# -- Seconds between passes."
        )
    )
    stale = {p.name for p in gen.stale_files(chart_copy)}
    assert stale == {"values.schema.json", "README.md"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--chart", str(chart_copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "values.schema.json: stale; run scripts/chart-schema" in result.stderr


def test_a_new_value_changes_the_schema(chart_copy: Path) -> None:
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text() + "\n# -- A new knob.\nnewKnob: 3\n")
    generated, rows = gen.build(chart_copy)
    assert generated["properties"]["newKnob"] == {"description": "A new knob.", "type": "integer"}
    assert any(r.key == "newKnob" and r.default == 3 for r in rows)
    assert chart_copy / "values.schema.json" in gen.stale_files(chart_copy)


def test_writing_makes_the_copy_current(chart_copy: Path) -> None:
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text() + "\n# -- A new knob.\nnewKnob: 3\n")
    assert gen.main(["--chart", str(chart_copy)]) == 0
    assert gen.stale_files(chart_copy) == []
    assert "| `newKnob` | integer | `3` | A new knob. |" in (chart_copy / "README.md").read_text()


def test_an_undocumented_value_is_refused(chart_copy: Path) -> None:
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text() + "\nsecretKnob: true\nother:\n  nested: 1\n")
    with pytest.raises(gen.SchemaError) as info:
        gen.build(chart_copy)
    assert "secretKnob: add a '# -- description'" in str(info.value)
    assert "other.nested: add a '# -- description'" in str(info.value)


def test_a_null_default_needs_a_type(chart_copy: Path) -> None:
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text() + "\n# -- Nothing yet.\nmaybe: null\n")
    with pytest.raises(gen.SchemaError, match="maybe: default null; give its type"):
        gen.build(chart_copy)


def test_bad_schema_json_names_the_line(chart_copy: Path) -> None:
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text() + "\n# -- Broken.\n# @schema {nope}\nbroken: 1\n")
    with pytest.raises(gen.SchemaError, match=r"values\.yaml:\d+: @schema is not JSON"):
        gen.build(chart_copy)


# --- what the schema says ------------------------------------------------------------------------


def test_every_value_has_a_one_line_description() -> None:
    def walk(node: dict[str, Any], path: str) -> list[str]:
        missing: list[str] = []
        for key, sub in node.get("properties", {}).items():
            where = f"{path}.{key}" if path else key
            if sub.get("type") == "object" and "properties" in sub:
                missing.extend(walk(sub, where))
            elif not sub.get("description") or "\n" in sub["description"]:
                missing.append(where)
        return missing

    assert walk(schema(), "") == []


def test_schema_is_closed_and_types_come_from_defaults() -> None:
    data = schema()
    assert data["additionalProperties"] is False
    props = data["properties"]
    assert props["replicaCount"]["type"] == "integer"
    assert props["debounce"]["type"] == "number"
    assert props["policy"]["enum"] == ["sync", "upsert-only", "create-only"]
    assert props["leaderElection"]["properties"]["leaseNamespace"]["type"] == ["string", "null"]
    assert props["fleets"]["items"] == {"$ref": "#/definitions/fleet"}
    assert props["securityContext"]["additionalProperties"] is True
    fleet = data["definitions"]["fleet"]
    assert set(fleet["required"]) == {"name", "ingressClassName", "visibility", "namespace"}
    assert fleet["properties"]["visibility"]["enum"] == ["public", "private"]
    # The TSIG secret can only come from a Secret reference, never inline.
    tsig = data["definitions"]["provider"]["properties"]["tsig"]
    assert "secret" not in tsig["properties"]
    assert tsig["additionalProperties"] is False


def test_readme_table_lists_every_documented_value() -> None:
    readme = (CHART / "README.md").read_text()
    _, rows = gen.build(CHART)
    assert len(rows) > 60
    for row in rows:
        assert f"| `{row.key}` |" in readme


def test_default_values_are_the_hardened_ones() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["replicaCount"] == 2
    assert values["leaderElection"]["enabled"] is True
    assert values["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["podSecurityContext"]["runAsUser"] != 0


# --- the image ---------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    result: list[tuple[str, str]] = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        word, _, rest = stripped.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_image_is_slim_python_311() -> None:
    bases = [rest.split()[0] for word, rest in dockerfile_instructions() if word == "FROM"]
    assert bases
    assert all(b == "python:3.11-slim" for b in bases)


def test_image_runs_as_a_non_root_user() -> None:
    users = [rest for word, rest in final_stage() if word == "USER"]
    assert users, "the final stage sets no USER (it would run as root)"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    chart_user = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert user == str(chart_user["runAsUser"])


def test_image_entry_point_is_the_cli_run_with_the_chart_config() -> None:
    entries = [rest for word, rest in final_stage() if word == "ENTRYPOINT"]
    assert len(entries) == 1
    argv = json.loads(entries[0])  # exec form: no shell between the signal and the process
    assert argv == ["ingress-reconciler", "run", "--config", CONFIG_PATH]
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    assert f"mountPath: {CONFIG_PATH}" in deployment


def test_image_installs_the_package_from_the_source_tree() -> None:
    steps = dockerfile_instructions()
    copies = [rest for word, rest in steps if word == "COPY" and "--from" not in rest]
    assert any(shlex.split(c)[0] == "reconciler" for c in copies)
    assert any(shlex.split(c)[0] == "providers" for c in copies)
    assert any(word == "RUN" and "pip install" in rest and " ." in rest for word, rest in steps)
    ignore = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*"  # everything is left out of the build context but what is listed
    assert {"!pyproject.toml", "!reconciler/", "!providers/"} <= set(ignore)
