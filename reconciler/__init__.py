"""ingress-reconciler: fleets, load balancers, Ingress status and DNS, kept converged."""
