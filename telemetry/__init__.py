"""Build telemetry: samplers, stages, failure analysis, baselines and reports.

This package's ``__init__`` imports nothing on purpose: the builder imports
``telemetry.events`` (stdlib only) and must not pull in the samplers.
"""
