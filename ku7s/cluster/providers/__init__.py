"""Where node containers run. docker.py is the provider for a local Docker engine."""
