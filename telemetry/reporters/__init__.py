"""Reporters: turn a RunData and its analysis into files (metrics.json, metrics.prom, logs...)."""
