"""Hollow nodes: many simulated nodes in one process, speaking the real node protocol."""
