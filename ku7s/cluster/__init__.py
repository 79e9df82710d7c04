"""Cluster lifecycle on Docker: the config file, images, and the create/delete/node verbs.

The only host-side state is Docker labels (io.ku7s.cluster, io.ku7s.role) and the
kubeconfig context; everything else lives in the containers and their volumes.
"""
