"""Guardrail alerts: evaluate guarded metrics of running tests, record changes, send webhooks."""
