"""The aggregation layer: group-versions an APIService hands to a Service in the cluster
are proxied there, with the front-proxy's credentials, and merged into discovery."""
