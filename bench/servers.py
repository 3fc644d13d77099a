"""The benchmark's views of the shared test servers: BIND with a query log, moto's recording.

:class:`QueryLogBind` is the project's :class:`~e2e.servers.bind.BindServer` with ``querylog yes``
(named runs with ``-g``, so every query and approved update lands in its log file), which lets the
benchmark count SOA queries, transfers and updates per zone from the server's side.
:class:`MotoRecording` reads moto's request recording (one JSON line per request) from a byte
offset, so the calls of one window can be counted per signer (each program signs with its own
access key id, the benchmark itself with another).
"""

from __future__ import annotations

from pathlib import Path

from bench.stats import ApiCall, parse_recorded_call, queries_per_zone, recorded_entries
from e2e.servers.bind import BindServer

__all__ = ["MotoRecording", "QueryLogBind"]


class QueryLogBind(BindServer):
    """A :class:`BindServer` that logs every query and every approved update."""

    def _write_config(self) -> Path:
        conf = super()._write_config()
        text = conf.read_text()
        conf.write_text(text.replace("options {\n", "options {\n  querylog yes;\n", 1))
        return conf

    @property
    def log_path(self) -> Path:
        """named's log file (stderr of ``named -g``)."""
        return self.directory / "named.log"

    def log_offset(self) -> int:
        """The log's size now: pass it to :meth:`queries_since` to count from here."""
        path = self.log_path
        return path.stat().st_size if path.exists() else 0

    def queries_since(self, offset: int) -> dict[str, dict[str, int]]:
        """Requests per zone and kind (SOA, AXFR, A, UPDATE...) logged after ``offset``."""
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
        lines = data[: data.rfind(b"\n") + 1].decode(errors="replace").splitlines()
        return queries_per_zone(lines, self.zones)


class MotoRecording:
    """moto's request recording file (``MOTO_RECORDER_FILEPATH``), read from byte offsets."""

    def __init__(self, path: Path) -> None:
        self.path = path
        """The JSON-lines file moto appends one request to before handling it."""
        self.unreadable = 0
        """Pieces of the recording that could not be read so far (torn or interleaved entries)."""

    def offset(self) -> int:
        """The file's size now: pass it to :meth:`calls_since` to read from here."""
        return self.path.stat().st_size if self.path.exists() else 0

    def calls_since(self, offset: int) -> list[ApiCall]:
        """Every complete recorded request after ``offset``, in arrival order."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
        text = data[: data.rfind(b"\n") + 1].decode(errors="replace")
        entries, unreadable = recorded_entries(text)
        calls: list[ApiCall] = []
        for entry in entries:
            if not (isinstance(entry.get("method"), str) and isinstance(entry.get("url"), str)):
                unreadable += 1  # JSON, but not a recorded request
                continue
            try:
                calls.append(parse_recorded_call(entry))
            except (KeyError, TypeError, ValueError):
                unreadable += 1
        self.unreadable += unreadable
        return calls
