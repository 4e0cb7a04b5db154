"""Samplers fed by one process-tree walk per tick (see ``interface.py``)."""
