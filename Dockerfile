# The action's image. With `runs.image: Dockerfile` GitHub builds this file at the start of every
# job that uses the action, so every package here is start-up time users pay: install only what
# the action runs. GitHub's rules for Docker actions: no WORKDIR (the runner sets
# --workdir /github/workspace), no USER (the runner needs root to write the workspace), and an
# absolute ENTRYPOINT.
FROM debian:trixie-slim

# What runs in the container:
# - python3: the entrypoint, the telemetry session and the builder (`python3 -m multiarch`).
#   The locked dependencies go into the system interpreter's site-packages rather than a
#   venv so that any `python3` on any PATH (a `command:` build calling `python3 -m telemetry`,
#   a workflow that overrides PATH) sees them.
# - lintian (`lintian-check: true`); it brings dpkg-dev, binutils and file with it.
# - ca-certificates: TLS to the GitHub API and asset hosts from Python's ssl module.
# - no qemu: the builder checks foreign executables by their ELF headers and never runs
#   them, so emulators would add size and nothing else (tests run them on the host).
# - pip only for the install step: Debian's pip wheel (python3-pip-whl, one file, run straight
#   from the wheel), purged in the same layer. The python3-pip package would cost seconds more:
#   it pulls python3-wheel, byte-compiles itself on install and needs an autoremove afterwards.
#
# The dpkg excludes keep docs, man pages and translations out of every package installed here
# (what Debian's own slim images do for the base packages); lintian's data under
# /usr/share/lintian stays. The .pth file puts /app on every interpreter's path without
# PYTHONPATH, which a workflow's env could override. Tests and type stubs shipped inside wheels
# are never imported at run time, nor is zstandard's CFFI backend (12 MB; its C backend is the
# default and the only one we use).
#
# What else is deleted after the install, in the same layer, is never run or read by the
# action, lintian or the tools lintian calls (from binutils it runs ar, readelf and strings;
# dpkg-shlibdeps runs objdump): lintian with every check gives the same tags before and after on
# packages with ELF executables, shared objects and man pages.
# - The wheels' shared objects carry their debug symbols (zstandard's alone is 11 MB of its
#   12 MB); strip keeps the dynamic symbols, which is all the interpreter needs to load them.
# - binutils' profilers (gprof, gprofng and its libraries), Python's regression-test package,
#   pydoc's help topics, and perl's .pod files (documentation for perldoc; nothing loads them).
# The linker, the assembler and perl's C headers stay although lintian never uses them: a
# `command:` build may apt-get install a compiler, and dpkg would not put back files deleted from
# packages that are already installed (binutils, libperl), so the compiler could not link.
#
# dpkg's force-unsafe-io skips the fsync after every unpacked file (a build that crashes throws
# its layer away anyway); it is set for this step only. apt's translated descriptions are never
# shown, so they are not downloaded.
#
# PIP_CERT: behind a TLS-inspecting proxy pip needs the proxy's CA. Mount a bundle into the build
# and name it here, e.g. `podman build -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro
# --build-arg PIP_CERT=/run/host-ca.crt`. It cannot be mounted over the image's own
# /etc/ssl/certs/ca-certificates.crt: the ca-certificates package's postinst replaces that file,
# which fails on a mount point. Unset (GitHub), pip uses the image's CA store.
ARG DEBIAN_FRONTEND=noninteractive
ARG PIP_CERT=""
COPY requirements.lock /tmp/requirements.lock
RUN set -eux; \
    printf '%s\n' \
        'path-exclude /usr/share/doc/*' \
        'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' \
        'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' \
        'path-exclude /usr/share/lintian/overrides/*' \
        > /etc/dpkg/dpkg.cfg.d/01-action-slim; \
    echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/02-build-only; \
    apt-get update -o Acquire::Languages=none; \
    apt-get install -y --no-install-recommends python3 python3-pip-whl lintian ca-certificates; \
    if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi; \
    pip_wheel="$(echo /usr/share/python-wheels/pip-*.whl)"; \
    python3 "$pip_wheel/pip" install --no-cache-dir --break-system-packages \
        --root-user-action=ignore --disable-pip-version-check -r /tmp/requirements.lock; \
    dpkg --purge python3-pip-whl; \
    site="$(python3 -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"; \
    echo /app > "$site/debian-multiarch-builder.pth"; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
        /tmp/* /root/.cache /usr/share/doc/*/changelog* /usr/share/man /usr/share/info /usr/share/locale/*; \
    find /usr/local/lib -depth \( -name tests -o -name '*.pyi' \) -path '*-packages/*' -exec rm -rf {} +; \
    rm -f /usr/local/lib/python3*/dist-packages/zstandard/_cffi.*.so; \
    find /usr/local/lib/python3*/dist-packages -name '*.so' -exec strip --strip-unneeded {} +; \
    rm -rf /usr/bin/gprof /usr/bin/*-linux-gnu*-gprof /usr/bin/gprofng* /usr/bin/gp-* /etc/gprofng.rc \
        /usr/lib/*/gprofng /usr/lib/*/libgprofng.so* /usr/lib/python3.*/test /usr/lib/python3.*/pydoc_data; \
    find /usr/share/perl /usr/share/perl5 /usr/lib/*/perl /usr/lib/*/perl5 -name '*.pod' -delete; \
    rm /etc/dpkg/dpkg.cfg.d/02-build-only; \
    python3 -c 'import psutil, ruamel.yaml, github, debian, jsonschema, prometheus_client, zstandard'; \
    lintian --version

ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1

COPY entrypoint.py /app/entrypoint.py
COPY action /app/action
COPY multiarch /app/multiarch
COPY contracts /app/contracts
COPY telemetry /app/telemetry
COPY schemas /app/schemas
# Byte-code compiled once here instead of in every container start (each run is a fresh
# container, so anything Python writes at run time is thrown away). The __pycache__ folders of
# Debian's packages and the wheels stay for the same reason: measured, they weigh 22 MB, and
# without them importing the action's modules takes ~2.7 s instead of ~0.7 s, paid by the
# entrypoint and again by the builder subprocess on every run.
RUN python3 -m compileall -q -j 0 /app

ENTRYPOINT ["/usr/bin/python3", "/app/entrypoint.py"]
