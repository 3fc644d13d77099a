"""The local test ground: a real kube-apiserver + etcd, BIND9 and moto on 127.0.0.1, and the
reconciler running as a local process against them (everything a kind cluster has but pods).

The demo (``python -m e2e.demo``) and the e2e tests (when no ``E2E_KUBECONFIG`` is given) use it::

    with LocalGround(workdir, progress=print) as ground:
        ground.apply_sample()
        ground.start_reconciler()
        observer = ground.observer()

:meth:`LocalGround.start` creates what a cloud account would already hold: a VPC with two subnets
tagged for the sample cluster (``kubernetes.io/cluster/<name>``, ``kubernetes.io/role/elb`` and
``kubernetes.io/role/internal-elb``) and the Route53 public hosted zone; BIND serves the private
zone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from e2e import sample
from e2e.observe import Observer
from e2e.servers.apiserver import ApiServer, free_tcp_port
from e2e.servers.bind import BindServer
from e2e.servers.moto import MotoServer
from reconciler.kube.client import KubeClient, load_client
from reconciler.kube.resources import INGRESS, NAMESPACE, ResourceKind, kind_for
from reconciler.model.errors import KubernetesError

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

__all__ = [
    "AWS_ENV",
    "REGION",
    "GroundError",
    "LocalGround",
    "apply_object",
    "aws_client",
]

REGION = "us-east-1"
"""Region of every emulated AWS client."""
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # dummy credentials for the emulator
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
"""Environment a process needs to talk to the emulator."""

Progress = Callable[[str], None]


class GroundError(RuntimeError):
    """The test ground could not be brought up or the reconciler process died."""


def aws_client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for the emulator at ``endpoint_url`` with dummy credentials."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
    )


def apply_object(kube: KubeClient, obj: Mapping[str, Any]) -> None:
    """Create ``obj``, or replace its spec when it exists (enough for the sample's objects)."""
    kind = kind_for(obj)
    meta = obj.get("metadata") or {}
    status, _ = _status_of(kube, kind, str(meta["name"]), meta.get("namespace"))
    if status == 404:
        kube.create(obj)
    elif "spec" in obj:
        kube.patch(kind, str(meta["name"]), {"spec": obj["spec"]}, namespace=meta.get("namespace"))


def _status_of(
    kube: KubeClient, kind: ResourceKind, name: str, namespace: str | None
) -> tuple[int, Any]:
    try:
        return 200, kube.get(kind, name, namespace)
    except KubernetesError as exc:
        if exc.status == 404:
            return 404, None
        raise


def create_network(ec2: EC2Client, cluster_name: str) -> tuple[str, tuple[str, ...]]:
    """A VPC with two subnets tagged for ``cluster_name`` (public and internal ELB roles)."""
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = []
    for index, zone in enumerate(("a", "b")):
        subnet = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.42.{index}.0/24", AvailabilityZone=f"{REGION}{zone}"
        )["Subnet"]["SubnetId"]
        ec2.create_tags(
            Resources=[subnet],
            Tags=[
                {"Key": f"kubernetes.io/cluster/{cluster_name}", "Value": "shared"},
                {"Key": "kubernetes.io/role/elb", "Value": "1"},
                {"Key": "kubernetes.io/role/internal-elb", "Value": "1"},
            ],
        )
        subnets.append(subnet)
    return vpc, tuple(subnets)


class LocalGround:
    """apiserver + etcd, BIND9, moto and a reconciler process, all on 127.0.0.1."""

    def __init__(self, workdir: Path, *, progress: Progress | None = None) -> None:
        self.workdir = workdir
        self.progress: Progress = progress or (lambda _message: None)
        self.apiserver = ApiServer()
        self.bind = BindServer((sample.BIND_ZONE,))
        self.moto = MotoServer(workdir=workdir / "moto")
        self.config_path = workdir / "config.yaml"
        self.reconciler_log = workdir / "reconciler.log"
        self.health_port = 0
        self._kube: KubeClient | None = None
        self._reconciler: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalGround:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the three servers and create the emulated network and the public zone."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.progress("starting kube-apiserver + etcd")
            self.apiserver.start()
            self.progress("starting BIND9 (zone internal.example.test, TSIG key ddns-key)")
            self.bind.start()
            self.progress("starting moto (Route53, ELBv2, EC2)")
            self.moto.start()
            self.progress("creating the emulated VPC, tagged subnets and public hosted zone")
            create_network(aws_client("ec2", self.moto.endpoint_url), sample.CLUSTER_NAME)
            aws_client("route53", self.moto.endpoint_url).create_hosted_zone(
                Name=sample.PUBLIC_ZONE, CallerReference=f"demo-{time.time_ns()}"
            )
            self._kube = load_client(kubeconfig=self.apiserver.kubeconfig)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the reconciler, then every server."""
        self.stop_reconciler()
        if self._kube is not None:
            self._kube.close()
            self._kube = None
        self.moto.stop()
        self.bind.stop()
        self.apiserver.stop()

    # --- handles ---------------------------------------------------------------------------

    @property
    def kube(self) -> KubeClient:
        """Admin client of the apiserver."""
        if self._kube is None:
            raise GroundError("ground not started")
        return self._kube

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig of the apiserver."""
        return self.apiserver.kubeconfig

    def observer(self) -> Observer:
        """An Observer of this ground."""
        return Observer(
            kube=self.kube,
            route53=aws_client("route53", self.moto.endpoint_url),
            elbv2=aws_client("elbv2", self.moto.endpoint_url),
            bind_host=self.bind.host,
            bind_port=self.bind.port,
            tsig_key=self.bind.key,
            public_zone=sample.PUBLIC_ZONE,
            private_zone=sample.BIND_ZONE,
        )

    # --- sample ----------------------------------------------------------------------------

    def write_config(self) -> Path:
        """Write the sample configuration for this ground (JSON is YAML) and return its path."""
        self.health_port = free_tcp_port()
        data = sample.config(
            aws_endpoint=self.moto.endpoint_url,
            bind_port=self.bind.port,
            tsig_secret_file=str(self.bind.secret_file),
            health_port=self.health_port,
        )
        self.config_path.write_text(json.dumps(data, indent=2) + "\n")
        return self.config_path

    def apply_sample(self) -> None:
        """Create the tenant namespaces and the sample Ingresses."""
        for namespace in sample.NAMESPACES:
            apply_object(
                self.kube,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            )
        for obj in sample.ingresses():
            apply_object(self.kube, obj)

    def delete_ingress(self, namespace: str, name: str) -> None:
        """Delete one Ingress."""
        self.kube.delete(INGRESS, name, namespace)

    def namespaces(self) -> list[str]:
        """Names of the namespaces in the cluster."""
        items, _ = self.kube.list(NAMESPACE)
        return sorted(str((i.get("metadata") or {}).get("name")) for i in items)

    # --- the reconciler process ------------------------------------------------------------

    def reconciler_command(self) -> list[str]:
        """The command line of the reconciler process."""
        return [
            sys.executable,
            "-m",
            "reconciler.app.cli",
            "run",
            "--config",
            str(self.config_path),
            "--kubeconfig",
            str(self.kubeconfig),
            "--log-level",
            "info",
        ]

    def start_reconciler(self) -> None:
        """Write the configuration and start ``ingress-reconciler run`` as a child process."""
        if not self.config_path.exists():
            self.write_config()
        env = {**os.environ, **AWS_ENV, "POD_NAMESPACE": "default"}
        env.pop("KUBECONFIG", None)
        with self.reconciler_log.open("ab") as log:
            self._reconciler = subprocess.Popen(
                self.reconciler_command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=Path(__file__).resolve().parent.parent,
            )

    def reconciler_alive(self) -> bool:
        """Whether the reconciler process is running."""
        return self._reconciler is not None and self._reconciler.poll() is None

    def check_reconciler(self) -> None:
        """Raise GroundError (with the end of its log) when the reconciler process has exited."""
        if self._reconciler is not None and self._reconciler.poll() is not None:
            raise GroundError(
                f"the reconciler exited with {self._reconciler.returncode}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the reconciler's log."""
        if not self.reconciler_log.exists():
            return ""
        text = self.reconciler_log.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop_reconciler(self) -> None:
        """SIGTERM the reconciler and wait for it (SIGKILL after 15 s)."""
        proc, self._reconciler = self._reconciler, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
