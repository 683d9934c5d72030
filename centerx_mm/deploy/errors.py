"""Errors of the deployment tools."""


class ExportError(RuntimeError):
    """The model (or its exported graph) cannot be deployed as asked."""
