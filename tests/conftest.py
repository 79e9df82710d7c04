"""Shared by unit and e2e tests."""
