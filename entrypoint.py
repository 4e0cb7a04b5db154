#!/usr/bin/env python3
"""The action's entrypoint: inputs in, a monitored build, outputs and summaries out.

Reads only ``INPUT_*`` (and ``GITHUB_*``) variables, so ``python entrypoint.py``
runs the same way outside the container. The order matters:

1. install the SIGINT/SIGTERM handlers and mask the token, before anything else
   can print or be interrupted;
2. validate the inputs; invalid ones still produce outputs, build-summary.json,
   a job summary and annotations (status ``failure``, category ``configuration``);
3. start the build as soon as possible (heavy imports wait until it runs);
4. read the builder's result file, write the telemetry report, then outputs,
   build-summary.json, the job summary and annotations; exit with the status's code.

With ``mode: aggregate`` step 3 and 4 are the join of a matrix's legs (``action.aggregate``):
nothing is built, and the same reporters publish the combined result.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

# Run from anywhere (the container calls `python3 /action/entrypoint.py` from the workspace):
# the action's own packages sit next to this file.
_ROOT = str(Path(__file__).resolve().parent)
if sys.path[0] != _ROOT:
    sys.path.insert(0, _ROOT)


def main() -> int:
    started = time.monotonic()
    from action.runner import CancelState

    cancel = CancelState()
    cancel.install()

    from action.inputs import InputError, mask_token, read_inputs, safe_defaults

    token = mask_token()
    try:
        inputs = read_inputs(token)
    except InputError as exc:
        from action.assemble import invalid_inputs
        from action.publish import publish

        fallback = safe_defaults(token)
        return publish(invalid_inputs(exc, fallback), fallback)

    from contracts.vocabulary import ActionMode

    try:
        if inputs.mode == ActionMode.AGGREGATE:
            from action.aggregate import run_aggregate

            outcome = run_aggregate(inputs, started=started)
        else:
            from action.pipeline import run_build

            outcome = run_build(inputs, cancel, started=started)
    except Exception as exc:
        # A bug of ours must not leave the step without outputs and build-summary.json.
        import traceback

        from action.assemble import crashed

        traceback.print_exc()
        outcome = crashed(inputs, exc, time.monotonic() - started)
    from action.publish import publish

    return publish(outcome, inputs)


if __name__ == "__main__":
    # Line-buffered: our lines and the build's (which writes to the same descriptor) stay in order.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    sys.exit(main())
