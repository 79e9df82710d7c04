"""Cluster DNS: the add-on that answers for Services and pods, as CoreDNS does."""
