"""The GitHub Action's side of the product: inputs in, outputs, summaries and annotations out.

``entrypoint.py`` wires these modules together; nothing here imports the
samplers or the builder at module level, so that the build subprocess starts
quickly (the time from container start to the build starting is part of every
run's cost).

Modules:

- ``inputs``: ``INPUT_*`` variables -> a validated, frozen ``ActionInputs``
  (token masked at once, paths confined to the workspace).
- ``builder_args``: ``ActionInputs`` -> the ``python -m multiarch build`` argv
  (never a shell string) and the child's environment (token only in ``GITHUB_TOKEN``).
- ``builder_result``: the builder's result file -> frozen dataclasses.
- ``outcome``: what the run produced, in one value the reporters share.
- ``outputs``: ``$GITHUB_OUTPUT`` (actions-toolkit, random delimiters).
- ``build_summary``: ``build-summary.json``, written atomically in every case.
- ``job_summary``: the Markdown job summary (SPEC 5.6), capped under 1 MiB.
- ``annotations``: ``::error``/``::warning`` with file and line, ``::group::`` blocks.
"""
