"""Sources: where desired endpoints come from (Ingresses in a cluster, manifest files)."""
