"""All SQL of TSMetrics: one module per subject, functions named by what they do."""
