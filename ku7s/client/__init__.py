"""The API client every ku7s component and the CLI use to talk to kube-apiserver."""
