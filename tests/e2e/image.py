"""Build the action's image and run it the way GitHub's runner runs a Docker container action.

No Docker engine and no image registry are reachable on the test machines, so (see
``/work/shared/CONTAINERS.md``):

- the base image ``debian:trixie-slim`` is made from Debian's packages with ``debootstrap`` and
  trimmed the way Debian's official "slim" images are, then imported under the official name so
  the repo's ``Dockerfile`` works unchanged. The rootfs tarball is cached under
  ``~/.cache/debian-multiarch-builder/`` and the import is skipped when the image exists;
- the project image is built with ``podman build --pull=never --runtime runc`` and the host's CA
  bundle mounted at ``/run/host-ca.crt`` and named by the Dockerfile's ``PIP_CERT`` argument,
  which is what lets ``pip`` inside the build reach PyPI through this network's TLS proxy;
- ``run_action`` reproduces the runner's ``docker run`` for a container step: the ``INPUT_*``
  variables (hyphens kept, action.yml defaults filled in), the ``/github/*`` mounts and per-step
  file-command files, ``--workdir /github/workspace``, the ``GITHUB_*``/``RUNNER_*`` variables,
  and values passed through the environment (``-e NAME``), never on the command line.

``parse_file_commands`` reads ``$GITHUB_OUTPUT`` the way the runner does (``name=value`` and
``name<<DELIMITER`` blocks); ``parse_workflow_commands`` reads ``::error file=…::`` lines.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from tests.support.apt_mirror import debian_mirror

BASE_IMAGE: Final = "docker.io/library/debian:trixie-slim"
PROJECT_IMAGE: Final = "localhost/debian-multiarch-builder:e2e"
SUITE: Final = "trixie"
CA_BUNDLE: Final = "/etc/ssl/certs/ca-certificates.crt"
# Where the build sees the host's CA bundle (this network inspects TLS, so pip needs the proxy's
# CA). Not over the image's own bundle: ca-certificates' postinst replaces that file, and
# replacing a mount point fails. The Dockerfile's PIP_CERT build argument names it.
BUILD_CA_BUNDLE: Final = "/run/host-ca.crt"
REPO_ROOT: Final = Path(__file__).resolve().parents[2]

# `crun` fails on these machines ("cgroups in hybrid mode"); runc works everywhere.
PODMAN: Final = ("podman", "--runtime", "runc")

# What Debian's official slim images leave out (their dpkg config says the same), so that the
# image size we measure here is the size GitHub's runner would build from the real base.
_SLIM_EXCLUDES: Final = (
    "/usr/share/doc/*",
    "/usr/share/info/*",
    "/usr/share/linda/*",
    "/usr/share/lintian/overrides/*",
    "/usr/share/locale/*",
    "/usr/share/man/*",
)
_SLIM_INCLUDES: Final = ("/usr/share/doc/*/copyright",)

# Where the runner's container step sees the workflow's folders.
WORKSPACE: Final = "/github/workspace"
FILE_COMMANDS: Final = "/github/file_commands"
HOME: Final = "/github/home"
WORKFLOW: Final = "/github/workflow"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "debian-multiarch-builder"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise concurrent sessions (xdist workers, parallel CI jobs) on one cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None) -> str:
    """Run a setup command; on failure raise with its output (a bare CalledProcessError hides it)."""
    proc = subprocess.run(
        list(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env=None if env is None else dict(env),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-6000:]}")
    return proc.stdout


def image_exists(name: str) -> bool:
    return (
        subprocess.run(
            ["podman", "image", "exists", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
        == 0
    )


def _slimify(rootfs: Path) -> None:
    """Trim a minbase rootfs like the official slim variant and keep it trimmed for later installs."""
    cfg = rootfs / "etc/dpkg/dpkg.cfg.d/docker-slim"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"path-exclude {p}" for p in _SLIM_EXCLUDES] + [f"path-include {p}" for p in _SLIM_INCLUDES]
    cfg.write_text("\n".join(lines) + "\n")
    for pattern in _SLIM_EXCLUDES:
        for path in rootfs.glob(pattern.lstrip("/")):
            keep = path.parent.name == "doc" and (path / "copyright").exists()
            if keep:
                for child in path.iterdir():
                    if child.name != "copyright":
                        _remove(child)
            else:
                _remove(path)
    # Package downloads and indexes are not part of an image.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (rootfs / leftover).glob("*"):
            if path.is_file():
                path.unlink()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def base_rootfs_tarball(mirror: str | None = None) -> Path:
    """The cached slim trixie rootfs as a tar file; made with debootstrap (root, ~30 s) once.

    The mirror is ``$DEBIAN_MIRROR`` when set, else the Debian archive this machine's apt uses.
    """
    mirror = mirror or debian_mirror()
    tarball = cache_root() / f"debian-{SUITE}-slim-rootfs.tar"
    with _locked(cache_root() / f"debian-{SUITE}-slim-rootfs.lock"):
        if tarball.exists():
            return tarball
        work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache_root()))
        try:
            rootfs = work / "rootfs"
            _run(["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror], timeout=900)
            _slimify(rootfs)
            partial = work / "rootfs.tar"
            _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], timeout=300)
            # Published by rename: a crash never leaves a truncated tarball under the final name.
            os.replace(partial, tarball)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return tarball


def ensure_base_image() -> None:
    """Make ``debian:trixie-slim`` available to ``podman build --pull=never``."""
    if image_exists(BASE_IMAGE):
        return
    tarball = base_rootfs_tarball()
    with _locked(cache_root() / "base-image-import.lock"):
        if not image_exists(BASE_IMAGE):
            _run(["podman", "import", str(tarball), BASE_IMAGE], timeout=300)


@dataclass(frozen=True)
class ImageBuild:
    tag: str
    seconds: float
    size_bytes: int
    log: str


def image_size(tag: str) -> int:
    return int(_run(["podman", "image", "inspect", "--format", "{{.Size}}", tag], timeout=60).strip())


def build_image(
    tag: str = PROJECT_IMAGE, *, context: Path = REPO_ROOT, no_cache: bool = False, timeout: float = 900
) -> ImageBuild:
    """Build the repo's Dockerfile with podman as CONTAINERS.md prescribes."""
    ensure_base_image()
    cmd = [
        "podman",
        "build",
        "--pull=never",
        "--runtime",
        "runc",
        "-v",
        f"{CA_BUNDLE}:{BUILD_CA_BUNDLE}:ro",
        "--build-arg",
        f"PIP_CERT={BUILD_CA_BUNDLE}",
        "-t",
        tag,
        "-f",
        str(context / "Dockerfile"),
    ]
    if no_cache:
        cmd.append("--no-cache")
    cmd.append(str(context))
    started = time.monotonic()
    log = _run(cmd, timeout=timeout)
    seconds = time.monotonic() - started
    return ImageBuild(tag=tag, seconds=seconds, size_bytes=image_size(tag), log=log)


# --- the runner's side of a container step -------------------------------------------------


@dataclass(frozen=True)
class RunnerDirs:
    """Host folders the runner mounts into a container step (``_work/...`` on a real runner)."""

    root: Path

    @property
    def workspace(self) -> Path:
        return self.root / "work" / "repo" / "repo"

    @property
    def file_commands(self) -> Path:
        return self.root / "work" / "_temp" / "_runner_file_commands"

    @property
    def home(self) -> Path:
        return self.root / "work" / "_temp" / "_github_home"

    @property
    def workflow(self) -> Path:
        return self.root / "work" / "_temp" / "_github_workflow"

    @classmethod
    def create(cls, root: Path) -> RunnerDirs:
        dirs = cls(root)
        for path in (dirs.workspace, dirs.file_commands, dirs.home, dirs.workflow):
            path.mkdir(parents=True, exist_ok=True)
        (dirs.workflow / "event.json").write_text('{"inputs": {}}\n')
        return dirs


@dataclass(frozen=True)
class StepFiles:
    """The per-step file-command files; the runner creates them empty before the step starts."""

    step_id: str
    dirs: RunnerDirs

    def host(self, kind: str) -> Path:
        return self.dirs.file_commands / f"{kind}_{self.step_id}"

    def container(self, kind: str) -> str:
        return f"{FILE_COMMANDS}/{kind}_{self.step_id}"

    @property
    def output(self) -> Path:
        return self.host("set_output")

    @property
    def summary(self) -> Path:
        return self.host("step_summary")


_FILE_COMMAND_KINDS: Final = {
    "GITHUB_OUTPUT": "set_output",
    "GITHUB_STEP_SUMMARY": "step_summary",
    "GITHUB_ENV": "set_env",
    "GITHUB_PATH": "add_path",
    "GITHUB_STATE": "save_state",
}


def action_input_defaults(action_yml: Path, token: str) -> dict[str, str]:
    """``INPUT_*`` for every input action.yml declares, with its default, as the runner sets them.

    The runner evaluates the defaults' expressions; the only one action.yml uses is the token.
    """
    if not action_yml.exists():
        return {}
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(action_yml.read_text())
    env: dict[str, str] = {}
    for name, spec in (data.get("inputs") or {}).items():
        default = str((spec or {}).get("default", "") or "")
        default = re.sub(r"\$\{\{\s*github\.token\s*\}\}", token, default)
        env[input_env_name(name)] = default
    return env


def input_env_name(name: str) -> str:
    # The runner upper-cases and turns spaces into underscores; hyphens stay.
    return "INPUT_" + name.replace(" ", "_").upper()


@dataclass
class ActionRun:
    returncode: int
    stdout: str
    stderr: str
    step: StepFiles
    dirs: RunnerDirs
    wall_seconds: float
    # Host wall clock just before `podman run` and the container's own start time (runtime's view).
    launched_at: float
    container_started_at: float | None
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return self.step.summary.read_text(encoding="utf-8") if self.step.summary.exists() else ""

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines() + self.stderr.splitlines()

    def commands(self, name: str) -> list[WorkflowCommand]:
        return [c for c in parse_workflow_commands(self.stdout) if c.name == name]

    def describe(self) -> str:
        """Everything useful when a test fails."""
        return (
            f"exit {self.returncode}\n--- stdout ---\n{self.stdout[-8000:]}\n--- stderr ---\n"
            f"{self.stderr[-8000:]}\n--- outputs ---\n{self.outputs}"
        )


def runner_env(
    step: StepFiles,
    *,
    api_url: str,
    repository: str = "octo-org/uv-debian",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables a hosted runner passes to a container action (values as on ubuntu-latest).

    RUNNER_TEMP and RUNNER_TOOL_CACHE are host paths that do not exist inside the container,
    exactly as on GitHub: the action must not rely on them.
    """
    # github.com's API lives on its own host; GitHub Enterprise Server's (and the loopback
    # fake's) under <server>/api/v3. Either way the server URL is what links point at.
    server = api_url.rstrip("/").removesuffix("/api/v3")
    env = {
        "HOME": HOME,
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION": "__self",
        "GITHUB_ACTION_PATH": "",
        "GITHUB_ACTION_REPOSITORY": "",
        "GITHUB_ACTION_REF": "",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_ACTOR_ID": "583231",
        "GITHUB_API_URL": api_url,
        "GITHUB_BASE_REF": "",
        "GITHUB_EVENT_NAME": "workflow_dispatch",
        "GITHUB_EVENT_PATH": f"{WORKFLOW}/event.json",
        "GITHUB_GRAPHQL_URL": api_url.rstrip("/") + "/graphql",
        "GITHUB_HEAD_REF": "",
        "GITHUB_JOB": "build",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_REF_PROTECTED": "false",
        "GITHUB_REF_TYPE": "branch",
        "GITHUB_REPOSITORY": repository,
        "GITHUB_REPOSITORY_ID": "123456789",
        "GITHUB_REPOSITORY_OWNER": repository.split("/")[0],
        "GITHUB_REPOSITORY_OWNER_ID": "9919",
        "GITHUB_RETENTION_DAYS": "90",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_RUN_ID": "4242424242",
        "GITHUB_RUN_NUMBER": "17",
        "GITHUB_SERVER_URL": server,
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_TRIGGERING_ACTOR": "octocat",
        "GITHUB_WORKFLOW": "Build packages",
        "GITHUB_WORKFLOW_REF": f"{repository}/.github/workflows/build.yml@refs/heads/main",
        "GITHUB_WORKFLOW_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_WORKSPACE": WORKSPACE,
        "RUNNER_ARCH": "X64",
        "RUNNER_DEBUG": "",
        "RUNNER_ENVIRONMENT": "github-hosted",
        "RUNNER_NAME": "GitHub Actions 7",
        "RUNNER_OS": "Linux",
        "RUNNER_TEMP": "/home/runner/work/_temp",
        "RUNNER_TOOL_CACHE": "/opt/hostedtoolcache",
        "RUNNER_WORKSPACE": "/home/runner/work/repo",
    }
    for var, kind in _FILE_COMMAND_KINDS.items():
        env[var] = step.container(kind)
    if extra:
        env.update(extra)
    return env


def run_action(
    image: str,
    dirs: RunnerDirs,
    *,
    inputs: Mapping[str, str],
    api_url: str,
    token: str = "",
    env: Mapping[str, str] | None = None,
    action_yml: Path | None = REPO_ROOT / "action.yml",
    record_start: bool = False,
    timeout: float = 600,
) -> ActionRun:
    """Run one container step of a workflow and parse its outputs as the runner would.

    ``inputs`` use action.yml's names (``config-file``); the others get action.yml's defaults.
    With ``record_start`` the container is kept until its start time has been read (the runner
    uses ``--rm``; the container cannot tell the difference).
    """
    running = start_action(
        image,
        dirs,
        inputs=inputs,
        api_url=api_url,
        token=token,
        env=env,
        action_yml=action_yml,
        record_start=record_start,
    )
    return running.wait(timeout)


def start_action(
    image: str,
    dirs: RunnerDirs,
    *,
    inputs: Mapping[str, str],
    api_url: str,
    token: str = "",
    env: Mapping[str, str] | None = None,
    action_yml: Path | None = REPO_ROOT / "action.yml",
    record_start: bool = False,
) -> RunningAction:
    """Start a container step without waiting for it (to cancel it, for instance)."""
    step = StepFiles(uuid.uuid4().hex, dirs)
    for kind in _FILE_COMMAND_KINDS.values():
        step.host(kind).write_text("")
    variables = runner_env(step, api_url=api_url, extra=env)
    variables.update(action_input_defaults(action_yml, token) if action_yml else {})
    for name, value in inputs.items():
        variables[input_env_name(name)] = value
    name = f"e2e-{step.step_id[:12]}"
    # Attached and with podman's default --sig-proxy, like `docker run` under the runner: a
    # signal to this process (the runner's cancel) reaches the container's PID 1.
    cmd = [*PODMAN, "run", "--name", name, "--network", "host", "--workdir", WORKSPACE]
    if not record_start:
        cmd.append("--rm")
    for host, target in (
        (dirs.workspace, WORKSPACE),
        (dirs.file_commands, FILE_COMMANDS),
        (dirs.home, HOME),
        (dirs.workflow, WORKFLOW),
    ):
        cmd += ["-v", f"{host}:{target}"]
    # Values travel in podman's own environment (`-e NAME`), as the runner passes them to docker:
    # the token never appears on a command line.
    for var in variables:
        cmd += ["-e", var]
    cmd.append(image)
    launched_at = time.time()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **variables}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    return RunningAction(proc, name, step, dirs, launched_at, time.monotonic(), record_start)


@dataclass
class RunningAction:
    proc: subprocess.Popen[bytes]
    name: str
    step: StepFiles
    dirs: RunnerDirs
    launched_at: float
    started_monotonic: float
    record_start: bool

    def send_signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> ActionRun:
        container_started_at: float | None = None
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
            wall = time.monotonic() - self.started_monotonic
            if self.record_start:
                container_started_at = container_start_time(self.name)
        except BaseException:
            # Killing podman would leave the container running: remove it too.
            self.proc.kill()
            self.proc.communicate()
            subprocess.run(["podman", "rm", "-f", self.name], capture_output=True, check=False)
            raise
        finally:
            if self.record_start:
                subprocess.run(["podman", "rm", "-f", self.name], capture_output=True, check=False)
        run = ActionRun(
            returncode=self.proc.returncode,
            stdout=stdout.decode("utf-8", "replace"),
            stderr=stderr.decode("utf-8", "replace"),
            step=self.step,
            dirs=self.dirs,
            wall_seconds=wall,
            launched_at=self.launched_at,
            container_started_at=container_started_at,
        )
        run.outputs = parse_file_commands(self.step.output.read_text(encoding="utf-8"))
        return run


def container_start_time(name: str) -> float:
    """The runtime's start time of a container, as a Unix timestamp (nanosecond text trimmed)."""
    text = _run(["podman", "inspect", "--format", "{{.State.StartedAt}}", name], timeout=60).strip()
    return parse_go_time(text)


def parse_go_time(text: str) -> float:
    """Parse Go's time.String() form, e.g. ``2026-11-25 19:50:01.123456789 +0000 UTC``."""
    match = re.match(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*([+-]\d\d:?\d\d|Z)?", text)
    if not match:
        raise ValueError(f"unrecognised time {text!r}")
    day, clock, frac, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    base = datetime.fromisoformat(f"{day}T{clock}{zone}")
    return base.timestamp() + (float(f"0.{frac}") if frac else 0.0)


# --- the runner's parsers ---------------------------------------------------------------------


def parse_file_commands(text: str) -> dict[str, str]:
    """Parse a ``$GITHUB_OUTPUT``-style file as the runner does; the last value of a name wins.

    A line is ``name=value`` when ``=`` comes before any ``<<``, else ``name<<DELIMITER``, whose
    value is every following line up to a line that is exactly the delimiter. Blank lines
    between entries are ignored. Anything else (a missing delimiter, an empty name) is an error
    that fails the step on a real runner, so it raises here.
    """
    values: dict[str, str] = {}
    lines = re.split(r"\r\n|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line == "":
            continue
        eq = line.find("=")
        heredoc = line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            name, value = line[:eq], line[eq + 1 :]
        elif heredoc >= 0:
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not delimiter:
                raise ValueError(f"empty delimiter for {name!r}")
            body: list[str] = []
            while True:
                if i >= len(lines):
                    raise ValueError(f"matching delimiter {delimiter!r} not found for {name!r}")
                current = lines[i]
                i += 1
                if current == delimiter:
                    break
                body.append(current)
            value = "\n".join(body)
        else:
            raise ValueError(f"invalid format {line!r}")
        if not name:
            raise ValueError(f"empty name in {line!r}")
        values[name] = value
    return values


@dataclass(frozen=True)
class WorkflowCommand:
    name: str
    properties: dict[str, str]
    message: str


_COMMAND_RE: Final = re.compile(r"^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$")


def _unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(text: str) -> str:
    return _unescape_data(text.replace("%3A", ":").replace("%2C", ","))


def parse_workflow_commands(stdout: str) -> list[WorkflowCommand]:
    """``::name key=value,key=value::message`` lines, unescaped as the runner does."""
    found: list[WorkflowCommand] = []
    for raw in stdout.splitlines():
        match = _COMMAND_RE.match(raw.strip())
        if not match:
            continue
        name, props_text, message = match.groups()
        props: dict[str, str] = {}
        for part in (props_text or "").split(","):
            if "=" in part:
                key, _, value = part.partition("=")
                props[key.strip()] = _unescape_property(value)
        found.append(WorkflowCommand(name, props, _unescape_data(message)))
    return found


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Every regular file under ``root`` whose bytes contain ``needle`` (for secret leaks)."""
    hits: list[Path] = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            hits.append(path)
    return hits
