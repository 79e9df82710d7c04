"""Helpers for Kubernetes objects as plain JSON dicts: metadata, selectors, quantities."""
