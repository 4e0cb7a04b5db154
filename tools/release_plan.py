#!/usr/bin/env python3
"""The release workflow's decisions, testable without a registry or a remote.

    python tools/release_plan.py --tag v1.4.2 --repository Owner/Repo --registry ghcr.io \\
        [--digest sha256:<64 hex>] [--action-yml action.yml] [--existing-tags "v1.4.1 v1.3.9 …"] \\
        [--write-outputs]

With ``--digest`` (the digest docker/build-push-action pushed the image under):

- action.yml's ``runs.image`` becomes ``docker://ghcr.io/owner/repo@sha256:…``. Only that scalar
  changes: the file is edited on the line ruamel.yaml reports for the value, every other byte
  (comments, order, quoting, line endings) stays, and the result is parsed again to check that
  ``runs.image`` is the new reference and the rest of the document is what it was;
- the plan is printed as JSON (below).

Without ``--digest`` nothing is rewritten: the inputs are checked and the parts of the plan that do
not depend on the image are printed (the workflow does this before it builds anything).

The plan. ``v1.4.2`` stays on the release commit (the commit it was pushed at; it is never moved);
the moving tags ``v1.4`` and ``v1`` go to the commit that pins the image, and the image is tagged
``1.4.2``, ``1.4`` and ``1`` besides its digest. A pre-release (``v2.0.0-rc.1``) moves nothing: the
image gets only ``2.0.0-rc.1``. With ``--existing-tags``, a moving tag only goes to a release at
least as new as every release it already covers, so a patch release of an older line
(``v1.3.5`` after ``v1.4.2``) moves ``v1.3`` but leaves ``v1`` where it is.

``--write-outputs`` appends ``name=value`` lines to ``$GITHUB_OUTPUT`` (every value is one line;
lists are space-separated, the whole plan is in ``plan`` as compact JSON).

Refused with exit status 2 and a message naming the input: a tag that is not
``v<major>.<minor>.<patch>`` with an optional ``-rc.<n>``, a repository that is not ``owner/name``
or that is no valid image name once lower-cased, a registry that is no host name, a digest that is
not ``sha256:`` and 64 lower-case hex digits, an action.yml that is not a Docker action.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NUMBER = r"(0|[1-9][0-9]*)"
TAG_RE = re.compile(rf"v{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-rc\.{_NUMBER})?")
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
# GitHub's rules: an owner is letters, digits and single hyphens inside; a repository name is
# letters, digits, '.', '_' and '-'.
OWNER_RE = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*")
REPO_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
# The distribution spec's path component and domain (docker/distribution reference grammar).
IMAGE_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
REGISTRY_RE = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?))*(?::[0-9]{1,5})?"
)


class PlanError(ValueError):
    """An input the release cannot go ahead with; the message names it."""


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    rc: int | None

    @property
    def prerelease(self) -> bool:
        return self.rc is not None

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return text if self.rc is None else f"{text}-rc.{self.rc}"


def _match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    # fullmatch, ASCII digits only: '$' would let a trailing newline through.
    return pattern.fullmatch(text)


def parse_tag(tag: str) -> Version:
    found = _match(TAG_RE, tag)
    if found is None:
        raise PlanError(
            f"tag {tag!r} is not a release tag: expected v<major>.<minor>.<patch> with an optional "
            "-rc.<n> pre-release (e.g. v1.4.2, v2.0.0-rc.1)"
        )
    major, minor, patch, rc = found.groups()
    return Version(int(major), int(minor), int(patch), None if rc is None else int(rc))


def image_name(registry: str, repository: str) -> str:
    """``ghcr.io/owner/repo`` for ``Owner/Repo``: registries take lower-case names only."""
    host = registry.lower()
    if _match(REGISTRY_RE, host) is None:
        raise PlanError(f"registry {registry!r} is not a registry host name (e.g. ghcr.io)")
    owner, slash, name = repository.partition("/")
    if (
        not slash
        or _match(OWNER_RE, owner) is None
        or len(owner) > 39
        or _match(REPO_NAME_RE, name) is None
        or name in {".", ".."}
    ):
        raise PlanError(f"repository {repository!r} is not a GitHub repository: expected owner/name")
    for part in (owner.lower(), name.lower()):
        if _match(IMAGE_COMPONENT_RE, part) is None:
            raise PlanError(
                f"repository {repository!r} gives no valid image name: {part!r} is not allowed as "
                "a path component of an image (lower-case letters and digits, separated by '.', "
                "'_', '__' or '-')"
            )
    return f"{host}/{owner.lower()}/{name.lower()}"


def check_digest(digest: str) -> str:
    if _match(DIGEST_RE, digest) is None:
        raise PlanError(
            f"digest {digest!r} is not an image digest: expected sha256: and 64 lower-case hex digits"
        )
    return digest


def parse_existing_tags(names: Sequence[str]) -> list[Version]:
    """Release versions among git tag names; other names (v1, v1.4, anything else) are ignored."""
    found: list[Version] = []
    for name in names:
        try:
            found.append(parse_tag(name))
        except PlanError:
            continue
    return found


def _newest_in_line(version: Version, existing: Sequence[Version], depth: int) -> bool:
    """Whether ``version`` is at least as new as every release of its line (major for depth 1,
    major.minor for depth 2) among ``existing``; pre-releases never count."""
    line = version.core[:depth]
    return all(
        other.core <= version.core
        for other in existing
        if not other.prerelease and other.core[:depth] == line
    )


def tag_plan(
    tag: str,
    repository: str,
    registry: str,
    digest: str | None = None,
    existing_tags: Sequence[str] = (),
) -> dict[str, Any]:
    """The git tags to keep/create and to move, and the image tags to push, as JSON-ready data."""
    version = parse_tag(tag)
    image = image_name(registry, repository)
    existing = parse_existing_tags(existing_tags)
    git_tags: list[dict[str, Any]] = [{"name": tag, "commit": "release", "move": False}]
    image_tags = [f"{image}:{version}"]
    if not version.prerelease:
        for depth in (2, 1):
            if _newest_in_line(version, existing, depth):
                short = ".".join(str(n) for n in version.core[:depth])
                git_tags.append({"name": f"v{short}", "commit": "pin", "move": True})
                image_tags.append(f"{image}:{short}")
    plan: dict[str, Any] = {
        "tag": tag,
        "version": str(version),
        "prerelease": version.prerelease,
        "image": image,
        "git_tags": git_tags,
        "moving_tags": [t["name"] for t in git_tags if t["move"]],
        "image_tags": image_tags,
    }
    if digest is not None:
        check_digest(digest)
        plan["digest"] = digest
        plan["image_ref"] = f"{image}@{digest}"
        plan["action_image"] = f"docker://{image}@{digest}"
    return plan


# --- action.yml -------------------------------------------------------------------------------


def _load(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(io.StringIO(text))


def _plain(node: Any) -> Any:
    """ruamel's round-trip nodes as plain dicts, lists and scalars (for comparing documents)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def _lines(text: str) -> list[str]:
    """The lines as YAML counts them (\\n, \\r\\n or \\r), each with its line break."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def _scalar_end(line: str, start: int) -> int:
    """End (exclusive) of the one-line scalar that starts at ``start`` on ``line``."""
    quote = line[start] if start < len(line) else ""
    if quote == "'":
        index = start + 1
        while True:
            index = line.find("'", index)
            if index < 0:
                raise PlanError("runs.image in action.yml is a quoted scalar that spans lines")
            if line[index + 1 : index + 2] == "'":  # '' is an escaped quote
                index += 2
                continue
            return index + 1
    if quote == '"':
        index = start + 1
        while index < len(line):
            if line[index] == "\\":
                index += 2
                continue
            if line[index] == '"':
                return index + 1
            index += 1
        raise PlanError("runs.image in action.yml is a quoted scalar that spans lines")
    body = line[start:].rstrip("\r\n")
    comment = re.search(r"\s#", body)
    if comment is not None:
        body = body[: comment.start()]
    return start + len(body.rstrip())


def pin_action_image(text: str, reference: str) -> str:
    """``text`` (action.yml) with ``runs.image`` set to ``reference`` and nothing else changed."""
    document = _load(text)
    runs = document.get("runs") if isinstance(document, dict) else None
    if not isinstance(runs, dict) or runs.get("using") != "docker" or not isinstance(runs.get("image"), str):
        raise PlanError("action.yml is not a Docker container action (runs.using: docker with runs.image)")
    row, column = document["runs"].lc.value("image")
    lines = _lines(text)
    line = lines[row]
    if line[column : column + 1] in {"|", ">"}:
        raise PlanError("runs.image in action.yml is a block scalar; write it on one line")
    end = _scalar_end(line, column)
    old = line[column:end]
    quote = old[0] if old[:1] in {"'", '"'} else ""
    lines[row] = f"{line[:column]}{quote}{reference}{quote}{line[end:]}"
    result = "".join(lines)

    # The edit must have done exactly what was meant: one line changed, runs.image is the new
    # reference, and the rest of the document is what it was.
    changed = [i for i, (a, b) in enumerate(zip(_lines(text), lines, strict=True)) if a != b]
    after = _load(result)
    if after["runs"]["image"] != reference:
        raise PlanError(
            f"runs.image of action.yml did not become {reference!r} (found {after['runs']['image']!r})"
        )
    expected = _plain(document)
    expected["runs"]["image"] = reference
    if _plain(after) != expected or len(changed) > 1:
        raise PlanError("rewriting runs.image changed more of action.yml than that value")
    return result


def rewrite_action_file(path: Path, reference: str) -> bool:
    """Pin ``runs.image`` of the file at ``path``; whether the file changed."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PlanError(f"action file {str(path)!r} is not UTF-8 ({error})") from None
    new = pin_action_image(text, reference)
    if new == text:
        return False
    path.write_bytes(new.encode("utf-8"))
    return True


# --- outputs and command line -----------------------------------------------------------------


def outputs(plan: dict[str, Any]) -> dict[str, str]:
    """The step outputs: one line each, lists space-separated."""
    values = {
        "tag": plan["tag"],
        "version": plan["version"],
        "prerelease": "true" if plan["prerelease"] else "false",
        "image": plan["image"],
        "image-tags": " ".join(plan["image_tags"]),
        "moving-tags": " ".join(plan["moving_tags"]),
        "digest": plan.get("digest", ""),
        "image-ref": plan.get("image_ref", ""),
        "action-image": plan.get("action_image", ""),
        "plan": json.dumps(plan, separators=(",", ":")),
    }
    for name, value in values.items():
        if "\n" in value or "\r" in value:  # validated inputs cannot get here; never write a broken file
            raise PlanError(f"output {name} would span lines: {value!r}")
    return values


def write_outputs(plan: dict[str, Any], path: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in outputs(plan).items():
            handle.write(f"{name}={value}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="release_plan.py",
        description="Pin action.yml to the pushed image and print the release's tag plan as JSON.",
    )
    parser.add_argument("--tag", required=True, help="release tag, v<major>.<minor>.<patch>[-rc.<n>]")
    parser.add_argument("--repository", required=True, help="owner/name (lower-cased for the image)")
    parser.add_argument("--registry", default="ghcr.io", help="registry host (default: ghcr.io)")
    parser.add_argument("--digest", help="digest of the pushed image, sha256:<64 hex>; pins action.yml")
    parser.add_argument("--action-yml", type=Path, default=Path("action.yml"), help="(default: action.yml)")
    parser.add_argument(
        "--existing-tags",
        default="",
        help="git tags that exist (whitespace-separated); a moving tag never goes back to an older release",
    )
    parser.add_argument(
        "--write-outputs", action="store_true", help="also append name=value lines to $GITHUB_OUTPUT"
    )
    args = parser.parse_args(argv)
    output_file = os.environ.get("GITHUB_OUTPUT", "")
    try:
        if args.write_outputs and not output_file:
            raise PlanError("--write-outputs needs $GITHUB_OUTPUT (the runner's step output file)")
        plan = tag_plan(args.tag, args.repository, args.registry, args.digest, args.existing_tags.split())
        if args.digest is not None:
            plan["action_yml_changed"] = rewrite_action_file(args.action_yml, plan["action_image"])
        if args.write_outputs:
            write_outputs(plan, output_file)
    except (PlanError, OSError) as error:
        print(f"release_plan.py: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(plan, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
