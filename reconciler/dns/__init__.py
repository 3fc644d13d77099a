"""DNS: sources, tenancy, the planner, the TXT registry, the pass over providers, the provider
contract and the in-memory provider."""
