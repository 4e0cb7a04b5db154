"""What the parts of the product agree on: names, statuses, defaults and the builder's result.

Stdlib only: the builder subprocess, the telemetry package and the action all import it,
and none of them may pull another's dependencies in through it.
"""
