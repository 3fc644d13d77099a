"""Evaluates the Tiltfile without Tilt: go.starlark.net's ``starlark`` (the interpreter Tilt
embeds, built by ``scripts/install.d/30-starlark``) runs it after a prelude of stub builtins that
record every call, then :func:`check` asserts what the dev loop relies on.
``scripts/check-tiltfile`` is the command; ``tests/unit/test_scripts.py`` runs it.

Tilt's ``os`` module has no counterpart in the plain interpreter (which has no ``struct``), so
``os.getenv(`` is evaluated as the stub ``_os_getenv(``, reading the environment given to
:func:`evaluate`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "KIND_CONTEXT",
    "STARLARK",
    "Call",
    "TiltfileError",
    "check",
    "evaluate",
    "main",
]

ROOT = Path(__file__).resolve().parent.parent
STARLARK = Path(
    os.environ.get("STARLARK_BIN")
    or Path.home() / ".cache" / "ingress-reconciler" / "bin" / "starlark"
)
"""The go.starlark.net interpreter (``scripts/install.d/30-starlark``)."""
KIND_CONTEXT = "kind-ingress-reconciler"
"""The only kube context the Tiltfile may deploy to."""

# Tilt's builtins used by the Tiltfile. Values returned by the stubs stand in for Tilt's objects.
_BUILTINS = (
    "allow_k8s_contexts",
    "k8s_yaml",
    "k8s_resource",
    "local_resource",
    "docker_build",
    "helm",
    "sync",
    "run",
    "fall_back_on",
    "local",
)
_PRELUDE = """
_calls = []
_env = json.decode(_ENV_JSON)
TRIGGER_MODE_AUTO = "TRIGGER_MODE_AUTO"
TRIGGER_MODE_MANUAL = "TRIGGER_MODE_MANUAL"
def _record(fn, args, kwargs):
    call = {"fn": fn, "args": list(args), "kwargs": kwargs, "id": len(_calls)}
    _calls.append(call)
    return {"$call": call["id"], "fn": fn}
def _os_getenv(key, default = None):
    return _env.get(key, default)
"""
_STUB = """
def {name}(*args, **kwargs):
    return _record("{name}", args, kwargs)
"""
_POSTLUDE = """
print("TILTCHECK:" + json.encode(_calls))
"""


class TiltfileError(AssertionError):
    """The Tiltfile does not parse, or does not do what the dev loop needs."""


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a Tilt builtin: its name, arguments and keyword arguments (as JSON values)."""

    fn: str
    """Builtin name."""
    args: tuple[Any, ...]
    """Positional arguments."""
    kwargs: Mapping[str, Any]
    """Keyword arguments."""
    index: int
    """Order of the call."""

    def arg(self, position: int, keyword: str, default: Any = None) -> Any:
        """The argument given at ``position`` or as ``keyword``."""
        if len(self.args) > position:
            return self.args[position]
        return self.kwargs.get(keyword, default)


def evaluate(
    tiltfile: Path = ROOT / "Tiltfile", *, env: Mapping[str, str] | None = None
) -> list[Call]:
    """Run the Tiltfile under the stubs; every builtin call in order. TiltfileError if it fails."""
    if not STARLARK.is_file():
        raise TiltfileError(
            f"starlark interpreter not found at {STARLARK}: run scripts/install.d/30-starlark"
        )
    source = tiltfile.read_text().replace("os.getenv(", "_os_getenv(")
    program = (
        f"_ENV_JSON = {json.dumps(json.dumps(dict(env or {})))}\n"
        + _PRELUDE
        + "".join(_STUB.format(name=name) for name in _BUILTINS)
        + "\n# --- Tiltfile ---\n"
        + source
        + _POSTLUDE
    )
    result = subprocess.run(
        [str(STARLARK), "-globalreassign", "-recursion", "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tiltfile.parent,
    )
    # The interpreter's print() writes to stderr, where its errors go too.
    output = (result.stdout + result.stderr).splitlines()
    marker = next((line for line in output if line.startswith("TILTCHECK:")), None)
    if result.returncode != 0 or marker is None:
        raise TiltfileError("the Tiltfile does not evaluate:\n" + "\n".join(output))
    raw = json.loads(marker[len("TILTCHECK:") :])
    return [Call(fn=c["fn"], args=tuple(c["args"]), kwargs=c["kwargs"], index=c["id"]) for c in raw]


def _one(calls: Sequence[Call], fn: str) -> Call:
    found = [c for c in calls if c.fn == fn]
    if len(found) != 1:
        raise TiltfileError(f"expected exactly one {fn}() call, found {len(found)}")
    return found[0]


def _paths(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _step(calls: Sequence[Call], ref: Any) -> Call:
    if not isinstance(ref, dict) or "$call" not in ref:
        raise TiltfileError(f"{ref!r} is not the result of a Tilt builtin")
    return calls[int(ref["$call"])]


def check(calls: Sequence[Call], *, root: Path = ROOT) -> list[str]:
    """Assert the dev loop's invariants; one line per thing checked. TiltfileError on the first
    violation."""
    done: list[str] = []
    allow = _one(calls, "allow_k8s_contexts")
    if _paths(allow.arg(0, "contexts")) != [KIND_CONTEXT]:
        raise TiltfileError(f"allow_k8s_contexts must pin {KIND_CONTEXT!r} only: {allow.args}")
    deploys = [c for c in calls if c.fn in ("k8s_yaml", "helm", "docker_build")]
    if any(c.index < allow.index for c in deploys):
        raise TiltfileError("allow_k8s_contexts must come before anything is deployed")
    done.append(f"allow_k8s_contexts pins {KIND_CONTEXT} before any deployment")

    chart = _one(calls, "helm")
    if chart.arg(0, "paths") != "charts/ingress-reconciler":
        raise TiltfileError(f"helm() must render the real chart: {chart.args}")
    values = _paths(chart.kwargs.get("values"))
    if "e2e/kind/values-dev.yaml" not in values:
        raise TiltfileError(f"helm() must use e2e/kind/values-dev.yaml: {values}")
    applied = [
        c
        for c in calls
        if c.fn == "k8s_yaml" and isinstance(c.arg(0, "yaml"), dict)
        if c.arg(0, "yaml").get("$call") == chart.index
    ]
    if not applied:
        raise TiltfileError("the helm() output is never passed to k8s_yaml()")
    done.append("the real chart is rendered with helm() and the dev values, and applied")
    done.extend(_check_image(calls, chart))
    done.extend(_check_files(calls, chart, applied, root))
    done.extend(_check_resources(calls))
    return done


def _check_image(calls: Sequence[Call], chart: Call) -> list[str]:
    image = _one(calls, "docker_build")
    ref = image.arg(0, "ref")
    sets = _paths(chart.kwargs.get("set"))
    if f"image.repository={ref}" not in sets:
        raise TiltfileError(f"the chart's image.repository is not set to the built image {ref!r}")
    steps = [_step(calls, s) for s in image.kwargs.get("live_update") or ()]
    syncs = {(s.arg(0, "local_path"), s.arg(1, "remote_path")) for s in steps if s.fn == "sync"}
    for package in ("reconciler", "providers"):
        if not any(local == package for local, _ in syncs):
            raise TiltfileError(f"live_update does not sync {package}/ into the container")
    runs = [s for s in steps if s.fn == "run"]
    installs = [r for r in runs if "pip install" in str(r.arg(0, "cmd"))]
    if not installs or any(_paths(r.kwargs.get("trigger")) != ["pyproject.toml"] for r in installs):
        raise TiltfileError("dependencies must reinstall only when pyproject.toml changes")
    restarts = [r for r in runs if r not in installs and not r.kwargs.get("trigger")]
    if not restarts or steps.index(restarts[-1]) != len(steps) - 1:
        raise TiltfileError("live_update must end by restarting the process on every change")
    return [
        "live_update syncs reconciler/ and providers/, reinstalls on pyproject.toml only,",
        "  and restarts the process",
    ]


def _check_files(calls: Sequence[Call], chart: Call, applied: list[Call], root: Path) -> list[str]:
    image = _one(calls, "docker_build")
    values = _paths(chart.kwargs.get("values"))
    dockerfile = root / str(image.kwargs.get("dockerfile", "Dockerfile"))
    for path in [
        dockerfile,
        *(root / p for p in _paths(image.kwargs.get("only"))),
        *(root / p for p in values),
        *(root / str(c.arg(0, "yaml")) for c in calls if c.fn == "k8s_yaml" and c not in applied),
    ]:
        if not path.exists():
            raise TiltfileError(
                f"the Tiltfile names {path.relative_to(root)}, which does not exist"
            )
    return ["every file the Tiltfile names exists"]


def _check_resources(calls: Sequence[Call]) -> list[str]:
    local = {str(c.arg(0, "name")): c for c in calls if c.fn == "local_resource"}
    unit = local.get("unit-tests")
    if unit is None or "pytest" not in str(unit.arg(1, "cmd")):
        raise TiltfileError("a local_resource 'unit-tests' must run pytest")
    resources = {str(c.arg(0, "workload")): c for c in calls if c.fn == "k8s_resource"}
    for name in ("aws", "bind"):
        if not resources.get(name) or not resources[name].kwargs.get("port_forwards"):
            raise TiltfileError(f"the {name} workload needs a port forward for the e2e tests")
    return ["unit tests, emulator and BIND (with port forwards) are resources"]


def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/check-tiltfile [TILTFILE]``: exit 0 when the Tiltfile evaluates and checks."""
    args = list(sys.argv[1:] if argv is None else argv)
    tiltfile = Path(args[0]) if args else ROOT / "Tiltfile"
    try:
        for env in ({}, {"LOCALSTACK_AUTH_TOKEN": "token"}):
            lines = check(evaluate(tiltfile, env=env))
    except TiltfileError as exc:
        sys.stderr.write(f"check-tiltfile: {exc}\n")
        return 1
    sys.stdout.write("".join(f"check-tiltfile: {line}\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
