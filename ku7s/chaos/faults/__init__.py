"""Fault families, one module each; a fault is rebuilt from its record by its kind."""
