"""Marshmallow schemas: request arguments (validated) and responses (documented).

One module per API area; import from the module, e.g. `tsmetrics.schemas.metrics`.
"""
