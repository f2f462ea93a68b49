"""Rules a tool can check (STYLE.md, principle 11), read from the source as text.

Each failure names the file and line, so the fix is obvious: commit only at the boundary
(`ownwell.db.unit_of_work`), read time only from `ownwell.clock`, speak SMTP only in a sender,
import only what `pip install .` installs (the test extras are not there in production).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "ownwell"


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _code(line: str) -> str:
    """The line without a trailing `#` comment (good enough for these greps)."""
    return line.split("#", 1)[0]


def _violations(pattern: str, allowed: Callable[[str], bool]) -> list[str]:
    regex = re.compile(pattern)
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        name = _relative(path)
        if allowed(name):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if regex.search(_code(line)):
                found.append(f"{name}:{number}: {line.strip()}")
    return found


def _is_sender(name: str) -> bool:
    parts = name.split("/")
    if parts[:3] != ["src", "ownwell", "notifications"]:
        return False
    return "senders" in parts[3:-1] or parts[-1].startswith("senders")


def test_the_source_tree_is_where_these_checks_look() -> None:
    assert (SOURCE / "db.py").is_file() and (SOURCE / "clock.py").is_file()


def test_only_the_unit_of_work_commits() -> None:
    found = _violations(r"\.commit\(", lambda name: name == "src/ownwell/db.py")
    assert not found, (
        "services never commit; use ownwell.db.unit_of_work at the boundary instead:\n" + "\n".join(found)
    )


def test_only_the_clock_reads_the_time() -> None:
    found = _violations(r"utcnow|datetime\.now\(", lambda name: name == "src/ownwell/clock.py")
    assert not found, "take `now` from the injected clock (ownwell.clock) instead:\n" + "\n".join(found)


def test_only_senders_speak_smtp() -> None:
    found = _violations(r"import smtplib|from smtplib|smtplib\.", _is_sender)
    assert not found, (
        "SMTP belongs in src/ownwell/notifications/senders*.py (the worker's senders):\n" + "\n".join(found)
    )


def test_sender_paths_are_recognised() -> None:
    assert _is_sender("src/ownwell/notifications/senders.py")
    assert _is_sender("src/ownwell/notifications/senders_smtp.py")
    assert _is_sender("src/ownwell/notifications/senders/smtp.py")
    assert not _is_sender("src/ownwell/notifications/outbox.py")
    assert not _is_sender("src/ownwell/cases/senders.py")


def _runtime_distributions() -> set[str]:
    """[project].dependencies of pyproject.toml and everything they require, by canonical name."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [Requirement(line) for line in declared["dependencies"]]
    seen: dict[str, set[str]] = {}
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            child = Requirement(line)
            wanted = ["", *sorted(seen[name])]
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(child)
    return set(seen)


def test_the_source_imports_only_runtime_dependencies() -> None:
    runtime = _runtime_distributions()
    providers = metadata.packages_distributions()
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top == "ownwell" or top in sys.stdlib_module_names or top == "__future__":
                    continue
                dists = {canonicalize_name(d) for d in providers.get(top, [])}
                if not dists & runtime:
                    source = ", ".join(sorted(dists)) or "not installed"
                    found.append(f"{_relative(path)}:{node.lineno}: import {module} (from {source})")
    assert not found, (
        "imported by the application but not installed by `pip install .`; add the package to "
        "[project].dependencies in pyproject.toml:\n" + "\n".join(found)
    )
