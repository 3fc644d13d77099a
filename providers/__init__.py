"""Vendor adapters: DNS providers (RFC2136, Route53) and load balancers (ELBv2)."""
