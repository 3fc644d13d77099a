"""Canonical hosted zone ids of AWS Elastic Load Balancing, per region and load-balancer kind.

A Route53 ALIAS record names the hosted zone of its target. ELBv2 ``DescribeLoadBalancers``
reports it (``CanonicalHostedZoneId``) for load balancers the caller may see; for any other load
balancer the id follows from the hostname, because AWS publishes one id per region and kind:
Application and Classic Load Balancers (``<name>.<region>.elb.amazonaws.com``) share one,
Network Load Balancers (``<name>.elb.<region>.amazonaws.com``) have another. Values are AWS's
published table (https://docs.aws.amazon.com/general/latest/gr/elb.html), the same as
external-dns's provider/aws/aws.go. Pure data and string matching.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = [
    "APPLICATION_AND_CLASSIC_ZONE_IDS",
    "NETWORK_ZONE_IDS",
    "canonical_hosted_zone_id",
    "is_aws_load_balancer",
    "load_balancer_region",
]

APPLICATION_AND_CLASSIC_ZONE_IDS = MappingProxyType(
    {
        "us-east-1": "Z35SXDOTRQ7X7K",
        "us-east-2": "Z3AADJGX6KTTL2",
        "us-west-1": "Z368ELLRRE2KJ0",
        "us-west-2": "Z1H1FL5HABSF5",
        "ca-central-1": "ZQSVJUPU6J1EY",
        "ap-east-1": "Z3DQVH9N71FHZ0",
        "ap-south-1": "ZP97RAFLXTNZK",
        "ap-northeast-1": "Z14GRHDCWA56QT",
        "ap-northeast-2": "ZWKZPGTI48KDX",
        "ap-northeast-3": "Z5LXEXXYW11ES",
        "ap-southeast-1": "Z1LMS91P8CMLE5",
        "ap-southeast-2": "Z1GM3OXH4ZPM65",
        "ap-southeast-3": "Z08888821HLRG5A9ZRTER",
        "eu-central-1": "Z215JYRZR1TBD5",
        "eu-central-2": "Z06391101F2ZOEP8P5EB3",
        "eu-west-1": "Z32O12XQLNTSW2",
        "eu-west-2": "ZHURV8PSTC4K8",
        "eu-west-3": "Z3Q77PNBQS71R4",
        "eu-north-1": "Z23TAZ6LKFMNIO",
        "eu-south-1": "Z3ULH7SSC9OV64",
        "eu-south-2": "Z0956581394HF5D5LXGAP",
        "sa-east-1": "Z2P70J7HTTTPLU",
        "me-central-1": "Z08230872XQRWHG2XF6I",
        "me-south-1": "ZS929ML54UICD",
        "af-south-1": "Z268VQBMOI5EKX",
        "us-gov-west-1": "Z33AYJ8TM3BH4J",
        "us-gov-east-1": "Z166TLBEWOO7G0",
        "cn-north-1": "Z1GDH35T77C1KE",
        "cn-northwest-1": "ZM7IZAIOVVDZF",
    }
)
"""Region → hosted zone id of Application and Classic Load Balancers."""

NETWORK_ZONE_IDS = MappingProxyType(
    {
        "us-east-1": "Z26RNL4JYFTOTI",
        "us-east-2": "ZLMOA37VPKANP",
        "us-west-1": "Z24FKFUX50B4VW",
        "us-west-2": "Z18D5FSROUN65G",
        "ca-central-1": "Z2EPGBW3API2WT",
        "ap-east-1": "Z12Y7K3UBGUAD1",
        "ap-south-1": "ZVDDRBQ08TROA",
        "ap-northeast-1": "Z31USIVHYNEOWT",
        "ap-northeast-2": "ZIBE1TIR4HY56",
        "ap-northeast-3": "Z1GWIQ4HH19I5X",
        "ap-southeast-1": "ZKVM4W9LS7TM",
        "ap-southeast-2": "ZCT6FZBF4DROD",
        "ap-southeast-3": "Z01971771FYVNCOVWJU1G",
        "eu-central-1": "Z3F0SRJ5LGBH90",
        "eu-central-2": "Z02239872DOALSIDCX66S",
        "eu-west-1": "Z2IFOLAFXWLO4F",
        "eu-west-2": "ZD4D7Y8KGAS4G",
        "eu-west-3": "Z1CMS0P5QUZ6D5",
        "eu-north-1": "Z1UDT6IFJ4EJM",
        "eu-south-1": "Z23146JA1KNAFP",
        "eu-south-2": "Z1011216NVTVYADP1SSV",
        "sa-east-1": "ZTK26PT1VY4CU",
        "me-central-1": "Z00282643NTTLPANJJG2P",
        "me-south-1": "Z3QSRYVP46NYYV",
        "af-south-1": "Z203XCE67M25HM",
        "us-gov-west-1": "ZMG1MZ2THAWF1",
        "us-gov-east-1": "Z1ZSMQQ6Q24QQ8",
        "cn-north-1": "Z3QFB96KMJ7ED6",
        "cn-northwest-1": "ZQEIKTCZ8352D",
    }
)
"""Region → hosted zone id of Network Load Balancers."""

_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")


def _split(hostname: str) -> tuple[str, str] | None:
    """(kind, region) of an ELB hostname: kind "nlb" or "alb"; None for anything else."""
    host = hostname.strip().rstrip(".").lower()
    for suffix in _SUFFIXES:
        if not host.endswith(suffix):
            continue
        labels = host[: -len(suffix)].split(".")
        # NLB: <name>-<hash>.elb.<region>.amazonaws.com
        if len(labels) >= 3 and labels[-2] == "elb":
            return ("nlb", labels[-1])
        # ALB/CLB: [dualstack.|internal-]<name>-<hash>.<region>.elb.amazonaws.com
        if len(labels) >= 3 and labels[-1] == "elb":
            return ("alb", labels[-2])
    return None


def load_balancer_region(hostname: str) -> str | None:
    """The region in an ELB hostname, or None when it is not one."""
    parts = _split(hostname)
    return parts[1] if parts else None


def canonical_hosted_zone_id(hostname: str) -> str | None:
    """The published canonical hosted zone id for an ELB hostname; None if not an ELB or the
    region is not in the table."""
    parts = _split(hostname)
    if parts is None:
        return None
    kind, region = parts
    table = NETWORK_ZONE_IDS if kind == "nlb" else APPLICATION_AND_CLASSIC_ZONE_IDS
    return table.get(region)


def is_aws_load_balancer(hostname: str) -> bool:
    """True when ``hostname`` has the shape of an Elastic Load Balancing DNS name."""
    return _split(hostname) is not None
