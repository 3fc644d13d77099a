"""A real BIND9 server on 127.0.0.1 for tests, the demo and benchmarks.

``BindServer`` writes a ``named.conf``, one zone file per zone and a TSIG key into a temporary
directory, starts ``named -g`` on a free port, waits (by polling SOA queries, never by sleeping a
fixed time) until every zone answers, and on exit terminates the process and waits for it::

    with BindServer(["example.test", "other.test"]) as bind:
        Rfc2136Provider(name="bind", host=bind.host, port=bind.port, zones=bind.zones,
                        tsig_key_name=bind.key_name, tsig_algorithm=bind.algorithm,
                        tsig_secret=bind.secret)

Every zone accepts TSIG-signed updates and transfers with ``key_name`` only. A second key,
``other_key_name``, is known to the server but allowed nothing (for "key not allowed" tests).
The helpers ``query``, ``transfer``, ``update`` and ``reset`` talk to the server directly,
bypassing the code under test, so tests can seed and inspect zones out of band.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.update
import dns.xfr
import dns.zone

__all__ = [
    "BindNotInstalledError",
    "BindServer",
    "BindStartError",
    "ZoneRecord",
    "find_named",
    "free_port",
    "main",
]

INSTALL_HINT = "install bind9: apt-get install bind9 bind9-dnsutils"
DEFAULT_ZONES = ("example.test", "private.example.test", "other.test")


class BindNotInstalledError(RuntimeError):
    """``named`` is not on PATH (or in /usr/sbin); the message says how to install it."""


class BindStartError(RuntimeError):
    """``named`` did not start or did not answer in time; the message holds its log's tail."""


@dataclass(frozen=True, slots=True)
class ZoneRecord:
    """One record set as the server holds it: absolute name without the trailing dot."""

    name: str
    """Owner name, lower case, no trailing dot."""
    rdtype: str
    """Record type text, e.g. ``"A"``."""
    ttl: int
    """TTL in seconds."""
    values: tuple[str, ...]
    """Rdata in presentation form (names absolute with a trailing dot), sorted."""


def find_named() -> str:
    """Path of the ``named`` binary, or raise BindNotInstalledError."""
    for candidate in ("named", "/usr/sbin/named"):
        found = shutil.which(candidate)
        if found:
            return found
    raise BindNotInstalledError(f"`named` not found; {INSTALL_HINT}")


def free_port() -> int:
    """A port that is free on 127.0.0.1 for both TCP and UDP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise BindStartError("no free port on 127.0.0.1 for both TCP and UDP")


class BindServer:
    """A ``named`` process serving ``zones`` on 127.0.0.1:``port`` with TSIG-guarded updates.

    Use as a context manager (or call :meth:`start` and :meth:`stop`). The secret is generated
    per server; it is available as :attr:`secret` and in the file :attr:`secret_file`.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        zones: Sequence[str] = DEFAULT_ZONES,
        *,
        key_name: str = "ddns-key",
        algorithm: str = "hmac-sha256",
        other_key_name: str = "other-key",
        startup_timeout: float = 15.0,
    ) -> None:
        self.zones: tuple[str, ...] = tuple(z.lower().rstrip(".") for z in zones)
        self.key_name = key_name
        self.algorithm = algorithm
        self.other_key_name = other_key_name
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.other_secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.startup_timeout = startup_timeout
        self.port = 0
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self._baseline: dict[str, dict[tuple[str, str], ZoneRecord]] = {}

    def __repr__(self) -> str:
        return f"BindServer(host={self.host!r}, port={self.port}, zones={self.zones!r})"

    @property
    def directory(self) -> Path:
        """The server's working directory (config, zone files, journals, log)."""
        if self._dir is None:
            raise BindStartError("server not started")
        return self._dir

    @property
    def secret_file(self) -> Path:
        """A file holding only the base64 TSIG secret (as a mounted Secret would)."""
        return self.directory / "tsig.secret"

    @property
    def key(self) -> dns.tsig.Key:
        """The dnspython TSIG key allowed to update and transfer every zone."""
        return dns.tsig.Key(self.key_name, self.secret, algorithm=self.algorithm)

    @property
    def log_text(self) -> str:
        """What ``named`` has logged so far."""
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> BindServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Write the configuration, start ``named`` and wait until every zone answers."""
        named = find_named()
        self._dir = Path(tempfile.mkdtemp(prefix="bind-"))
        self.secret_file.write_text(self.secret + "\n")
        self.secret_file.chmod(0o600)
        last_error: BindStartError | None = None
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            conf = self._write_config()
            self._check_config(conf)
            self._log = self.directory / "named.log"
            with self._log.open("wb") as log:
                self._proc = subprocess.Popen(
                    [named, "-g", "-c", str(conf), "-u", "root", "-n", "1"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            try:
                self._wait_ready()
            except BindStartError as exc:
                last_error = exc
                self._terminate()
                continue
            self._baseline = {zone: self._snapshot(zone) for zone in self.zones}
            return
        self._cleanup_dir()
        assert last_error is not None
        raise last_error

    def stop(self) -> None:
        """Terminate ``named``, wait for it, and remove the working directory."""
        self._terminate()
        self._cleanup_dir()

    def wait(self) -> int:
        """Block until ``named`` exits; its exit code."""
        if self._proc is None:
            raise BindStartError("server not started")
        return self._proc.wait()

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def _cleanup_dir(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _write_config(self) -> Path:
        d = self.directory
        keys = (
            f'key "{self.key_name}" {{ algorithm {self.algorithm}; secret "{self.secret}"; }};\n'
            f'key "{self.other_key_name}" {{ algorithm {self.algorithm}; '
            f'secret "{self.other_secret}"; }};\n'
        )
        (d / "keys.conf").write_text(keys)
        (d / "keys.conf").chmod(0o600)
        parts = [
            f'include "{d}/keys.conf";',
            "options {",
            f'  directory "{d}";',
            f'  pid-file "{d}/named.pid";',
            f'  session-keyfile "{d}/session.key";',
            f"  listen-on port {self.port} {{ 127.0.0.1; }};",
            "  listen-on-v6 { none; };",
            "  recursion no;",
            "  dnssec-validation no;",
            "  allow-query { any; };",
            "  notify no;",
            "};",
            "controls { };",
        ]
        for zone in self.zones:
            zone_file = d / f"{zone}.zone"
            zone_file.write_text(
                "$TTL 300\n"
                f"@ IN SOA ns.{zone}. hostmaster.{zone}. ( 1 3600 600 86400 300 )\n"
                f"@ IN NS ns.{zone}.\n"
                "ns IN A 127.0.0.1\n"
            )
            parts.append(
                f'zone "{zone}" {{ type primary; file "{zone_file}"; '
                f'journal "{zone_file}.jnl"; '
                f'allow-update {{ key "{self.key_name}"; }}; '
                f'allow-transfer {{ key "{self.key_name}"; }}; }};'
            )
        conf = d / "named.conf"
        conf.write_text("\n".join(parts) + "\n")
        return conf

    def _check_config(self, conf: Path) -> None:
        checker = shutil.which("named-checkconf") or "/usr/bin/named-checkconf"
        if not Path(checker).exists():
            raise BindNotInstalledError(f"`named-checkconf` not found; {INSTALL_HINT}")
        result = subprocess.run(
            [checker, "-z", str(conf)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise BindStartError(f"named-checkconf rejected {conf}:\n{result.stdout}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.zones)
        while pending:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                raise BindStartError(f"named exited early; log:\n{self.log_text[-3000:]}")
            if "address in use" in self.log_text:  # the port was taken after we probed it
                raise BindStartError(f"port {self.port} taken; log:\n{self.log_text[-3000:]}")
            if time.monotonic() > deadline:
                raise BindStartError(
                    f"named did not answer within {self.startup_timeout}s; "
                    f"log:\n{self.log_text[-3000:]}"
                )
            zone = pending[0]
            try:
                answer = self.query(zone, "SOA", timeout=0.2)
            except (dns.exception.DNSException, OSError):
                answer = ()
            if answer:
                pending.pop(0)
            else:
                time.sleep(0.02)  # poll interval while named is starting

    # --- out-of-band helpers -----------------------------------------------------------------

    def query(self, name: str, rdtype: str, *, timeout: float = 2.0) -> tuple[str, ...]:
        """Rdata texts of ``name``/``rdtype`` as the server answers now (empty if none)."""
        qname = dns.name.from_text(name)
        request = dns.message.make_query(qname, rdtype)
        response, _ = dns.query.udp_with_fallback(
            request, self.host, port=self.port, timeout=timeout
        )
        rrset = response.get_rrset(
            response.answer, qname, dns.rdataclass.IN, dns.rdatatype.from_text(rdtype)
        )
        if rrset is None:
            return ()
        return tuple(sorted(rd.to_text() for rd in rrset))

    def serial(self, zone: str) -> int:
        """The zone's current SOA serial."""
        (soa,) = self.query(zone, "SOA")
        return int(soa.split()[2])

    def transfer(self, zone: str) -> list[ZoneRecord]:
        """Every record set of ``zone`` by a TSIG-signed AXFR, sorted by name and type."""
        origin = dns.name.from_text(zone)
        holder = dns.zone.Zone(origin, relativize=False)
        query, _ = dns.xfr.make_query(holder, keyring=self.key, keyname=self.key.name)
        dns.query.inbound_xfr(self.host, holder, query, port=self.port, timeout=10)
        out = [
            ZoneRecord(
                name=name.to_text().rstrip(".").lower(),
                rdtype=dns.rdatatype.to_text(rds.rdtype),
                ttl=rds.ttl,
                values=tuple(sorted(rd.to_text() for rd in rds)),
            )
            for name, rds in holder.iterate_rdatasets()
        ]
        return sorted(out, key=lambda r: (r.name, r.rdtype))

    def update(
        self,
        zone: str,
        *,
        add: Iterable[ZoneRecord] = (),
        delete: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Apply one signed UPDATE: delete whole (name, type) rrsets, then add records.

        Raises RuntimeError with the rcode when the server does not answer NOERROR.
        """
        msg = dns.update.UpdateMessage(zone, keyring=self.key, keyname=self.key.name)
        for name, rdtype in delete:
            msg.delete(dns.name.from_text(name), rdtype)
        for record in add:
            rds = dns.rdataset.from_text_list(
                dns.rdataclass.IN,
                record.rdtype,
                record.ttl,
                list(record.values),
                origin=dns.name.root,
                relativize=False,
            )
            msg.add(dns.name.from_text(record.name), rds)
        response = dns.query.tcp(msg, self.host, port=self.port, timeout=10)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"update of {zone} failed: {dns.rcode.to_text(response.rcode())}")

    def reset(self, zones: Iterable[str] | None = None) -> None:
        """Bring zones back to their state right after start, with one UPDATE per zone."""
        for zone in self.zones if zones is None else zones:
            baseline = self._baseline[zone]
            current = {(r.name, r.rdtype): r for r in self.transfer(zone) if r.rdtype != "SOA"}
            wanted = {k: v for k, v in baseline.items() if k[1] != "SOA"}
            extra = [key for key in current if key not in wanted]
            changed = [rec for key, rec in wanted.items() if current.get(key) != rec]
            if extra or changed:
                self.update(
                    zone,
                    delete=extra + [(r.name, r.rdtype) for r in changed],
                    add=changed,
                )

    def _snapshot(self, zone: str) -> dict[tuple[str, str], ZoneRecord]:
        return {(r.name, r.rdtype): r for r in self.transfer(zone)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run a server until interrupted (for the demo and benchmarks); print how to reach it.

    ``python -m e2e.servers.bind example.test other.test`` prints one JSON line with host, port,
    zones, key name, algorithm and the secret file's path (never the secret itself).
    """
    parser = argparse.ArgumentParser(description="Run BIND9 on 127.0.0.1 for the demo.")
    parser.add_argument("zones", nargs="*", default=list(DEFAULT_ZONES))
    parser.add_argument("--algorithm", default="hmac-sha256")
    args = parser.parse_args(argv)

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    with BindServer(args.zones, algorithm=args.algorithm) as server:
        info = {
            "host": server.host,
            "port": server.port,
            "zones": list(server.zones),
            "key_name": server.key_name,
            "algorithm": server.algorithm,
            "secret_file": str(server.secret_file),
        }
        print(json.dumps(info), flush=True)
        try:
            return server.wait()
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
