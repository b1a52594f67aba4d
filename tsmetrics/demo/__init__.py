"""Demo data: the seed, the synthetic samples, the simulator and the embedded PostgreSQL."""
