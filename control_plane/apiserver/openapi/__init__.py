"""OpenAPI documents describing every kind the API server serves (built-in and custom)."""
