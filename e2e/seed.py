"""Seeds a dev cluster and its AWS emulator with the sample (used by ``e2e/kind/up.sh``).

``python -m e2e.seed aws --endpoint URL``: the VPC, tagged subnets and Route53 public hosted zone
that a cloud account would already hold. ``python -m e2e.seed manifests``: the sample's tenant
namespaces and Ingresses as YAML, for ``kubectl apply -f -``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

import yaml

from e2e import sample
from e2e.ground import aws_client, create_network

__all__ = ["main", "manifests", "seed_aws"]


def seed_aws(endpoint: str) -> None:
    """Create the network and the public zone in the emulator at ``endpoint`` (once)."""
    route53 = aws_client("route53", endpoint)
    zones = route53.list_hosted_zones_by_name(DNSName=sample.PUBLIC_ZONE + ".")["HostedZones"]
    if not any(z["Name"].rstrip(".") == sample.PUBLIC_ZONE for z in zones):
        route53.create_hosted_zone(
            Name=sample.PUBLIC_ZONE, CallerReference=f"seed-{time.time_ns()}"
        )
    ec2 = aws_client("ec2", endpoint)
    tag = f"kubernetes.io/cluster/{sample.CLUSTER_NAME}"
    tagged = ec2.describe_subnets(Filters=[{"Name": "tag-key", "Values": [tag]}])
    if not tagged["Subnets"]:
        create_network(ec2, sample.CLUSTER_NAME)


def manifests() -> list[dict[str, Any]]:
    """The sample's namespaces and Ingresses."""
    namespaces: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in sample.NAMESPACES
    ]
    return namespaces + list(sample.ingresses())


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None) -> int:
    """Entry point; the exit code."""
    parser = argparse.ArgumentParser(prog="python -m e2e.seed", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    aws = commands.add_parser("aws", help="create the network and public zone in the emulator")
    aws.add_argument("--endpoint", required=True, help="the emulator's URL")
    commands.add_parser("manifests", help="print the sample's namespaces and Ingresses")
    args = parser.parse_args(argv)
    stream = out if out is not None else sys.stdout
    if args.command == "aws":
        seed_aws(args.endpoint)
    else:
        stream.write(yaml.safe_dump_all(manifests(), sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
