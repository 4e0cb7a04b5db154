"""Samplers fed by one process-tree walk per tick (see ``interface.py``).

The ones a monitored run uses are listed in ``registry.py``.
"""
