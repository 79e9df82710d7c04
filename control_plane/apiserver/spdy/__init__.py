"""SPDY/3.1, as kubectl speaks it for exec and port-forward (over an HTTP upgrade, or tunnelled
in a WebSocket): the framing and a server-side session."""
