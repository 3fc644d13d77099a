"""Ingress fleets: the fleet spec, desired objects and convergence, controller profiles, load
balancers and Ingress status."""
