"""The ``ku7s`` command: parse the arguments, call ku7s.cluster, print the outcome."""
