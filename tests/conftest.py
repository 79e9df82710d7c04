"""Shared by unit and e2e tests."""

#: Fixtures that live in modules of their own (pytest takes plugins only from here).
pytest_plugins = ["tests.e2e.client_image"]
