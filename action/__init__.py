"""The GitHub Action's side of the product: inputs in, a monitored build, reports out.

``entrypoint.py`` wires these modules together; nothing here imports the
samplers, jsonschema or the builder before the build has started, so that the
build subprocess starts quickly (the time from container start to the build
starting is part of every run's cost).

Modules, in the order a run uses them:

- ``inputs``: ``INPUT_*`` variables -> a validated, frozen ``ActionInputs``
  (token masked at once, paths confined to the workspace, every problem at once).
- ``builder_args``: ``ActionInputs`` -> the ``python -m multiarch build`` argv
  (never a shell string) or the user's command, and the child's environment
  (token only in ``GITHUB_TOKEN``).
- ``runner``: SIGINT/SIGTERM handling (``CancelState``) and the plain run used
  when telemetry is off.
- ``telemetry_bridge``: the run through ``telemetry.session.Session`` and the
  report through ``telemetry.publish_files.write_all``.
- ``pipeline``: runs the build inside a ``::group::`` and collects the results.
- ``builder_result``: the builder's result file -> frozen dataclasses.
- ``assemble`` / ``outcome``: everything above folded into one ``ActionOutcome``
  (status, packages this run produced, failure, telemetry figures, exit status).
- ``publish``: publishes the outcome through the reporters below.
- ``build_summary``: ``build-summary.json``, written atomically in every case.
- ``outputs``: ``$GITHUB_OUTPUT`` (actions-toolkit, random delimiters) and a
  runner-faithful parser of that file.
- ``job_summary``: the Markdown job summary, capped under 1 MiB.
- ``annotations``: ``::error``/``::warning`` with file and line, ``::group::`` blocks.
"""
