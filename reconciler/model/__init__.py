"""Values every layer shares: errors, endpoints, zone names, the cluster Protocols and raw JSON
types, load-balancer values, and one reading of an Ingress. Imports nothing else of the project."""
