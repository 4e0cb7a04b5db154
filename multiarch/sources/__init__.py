"""Release sources: ``interface`` (the ABC and values), ``github`` and ``local`` implementations."""
