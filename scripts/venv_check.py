"""Is this virtual environment complete for the project? Run by scripts/setup.sh with the venv's own python, so
that `pip install` (which needs the package index) runs only when something is missing or changed.

    .venv/bin/python scripts/venv_check.py "[test]"     # extras as in PIP_EXTRAS: "", "[test]", "[clients,dev]"

Complete means: the project is installed in editable mode from this folder, at pyproject.toml's version and with
its entry points, and every requirement of pyproject.toml (its dependencies and the requested extras, and theirs,
markers evaluated) is installed at a version it allows. Editing pyproject.toml therefore triggers an install when
the edit changes what is installed (a requirement, an extra, the version, a script), not for a comment or a tool
setting. Exit status 0: complete; 1: not, with one line on stdout saying why; 2: an extra pyproject.toml lacks.
Standard library and `packaging` (pip's own copy if needed) only.
"""

from __future__ import annotations

import json
import sys
import tomllib
import urllib.parse
import urllib.request
from importlib import metadata
from pathlib import Path

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare venv: pip always carries a copy
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent


def parse_extras(text: str) -> list[str]:
    return [e.strip() for e in text.strip().strip("[]").split(",") if e.strip()]


def _unmet(requirements: list[tuple[Requirement, str]]) -> str | None:
    """The first requirement (or requirement of a requirement) not installed at an allowed version."""
    seen: set[tuple[str, frozenset[str]]] = set()
    stack = list(reversed(requirements))
    while stack:
        req, needed_by = stack.pop()
        key = (canonicalize_name(req.name), frozenset(canonicalize_name(e) for e in req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            return f"{req.name} is not installed (required by {needed_by})"
        if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            return f"{req.name} {dist.version} is installed, {needed_by} requires {req}"
        for line in dist.requires or []:
            try:
                sub = Requirement(line)
            except InvalidRequirement:
                continue
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ("", *req.extras)):
                stack.append((sub, f"{req.name}{'[' + ','.join(sorted(req.extras)) + ']' if req.extras else ''}"))
    return None


def _same_folder(url: str, root: Path) -> bool:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        return False
    return Path(urllib.request.url2pathname(parsed.path)).resolve() == root.resolve()


def check(extras: list[str], root: Path = ROOT, pyproject: Path | None = None) -> str | None:
    """None when the running interpreter's environment is complete for ``root`` with ``extras``, else why not
    (``pyproject``: another pyproject.toml to judge by, for tests)."""
    project = tomllib.loads((pyproject or root / "pyproject.toml").read_text())["project"]
    name = project["name"]
    optional = project.get("optional-dependencies", {})
    unknown = [e for e in extras if e not in optional]
    if unknown:
        raise KeyError(f"pyproject.toml has no extra {', '.join(unknown)} (it has: {', '.join(optional)})")

    requirements = [(Requirement(r), "pyproject.toml") for r in project.get("dependencies", [])]
    for extra in extras:
        requirements += [(Requirement(r), f"the {extra} extra") for r in optional[extra]]
    requirements = [(r, by) for r, by in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]
    # A self-reference (name[other-extra]) means that extra's requirements, read here from pyproject.toml.
    own = [r for r, _ in requirements if canonicalize_name(r.name) == canonicalize_name(name)]
    requirements = [(r, by) for r, by in requirements if canonicalize_name(r.name) != canonicalize_name(name)]
    for r in own:
        for extra in r.extras - set(extras):
            requirements += [(Requirement(x), f"the {extra} extra") for x in optional.get(extra, [])]

    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return f"{name} is not installed"
    if dist.version != project["version"]:
        return f"{name} {dist.version} is installed, pyproject.toml says {project['version']}"
    unmet = _unmet(requirements)
    if unmet:
        return unmet
    wanted = {(n, v, "console_scripts") for n, v in project.get("scripts", {}).items()}
    wanted |= {(n, v, "gui_scripts") for n, v in project.get("gui-scripts", {}).items()}
    wanted |= {(n, v, group) for group, eps in project.get("entry-points", {}).items() for n, v in eps.items()}
    installed = {(ep.name, ep.value, ep.group) for ep in dist.entry_points}
    if wanted != installed:
        return f"{name}'s entry points changed in pyproject.toml"
    scripts = Path(sys.prefix) / ("Scripts" if sys.platform == "win32" else "bin")
    absent = [n for n in project.get("scripts", {}) if not any(scripts.glob(f"{n}*"))]
    if absent:
        return f"the {', '.join(absent)} command is missing from {scripts}"
    try:
        origin = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        origin = {}
    if not _same_folder(origin.get("url", ""), root) or not origin.get("dir_info", {}).get("editable"):
        where = origin.get("url") or "a package"
        return f"{name} is installed from {where}, not in editable mode from {root}"
    return None


def main() -> int:
    extras = parse_extras(sys.argv[1] if len(sys.argv) > 1 else "")
    try:
        why = check(extras)
    except KeyError as e:
        print(e.args[0])
        return 2
    if why:
        print(why)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
