"""Custom resources: what a CustomResourceDefinition makes the API server serve (schemas,
printer columns) and the registrar that follows the definitions."""
