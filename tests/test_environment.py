"""pyproject.toml is the one source of pinned dependencies; environment.yml must mirror it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        match = PIN.match(requirement.strip())
        assert match, f"{requirement!r} is not pinned exactly (name==version)"
        pins[_normalise(match[1])] = match[2]
    return pins


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return _pins(requirements)


def environment_pins() -> tuple[str, dict[str, str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: section"
    pip = [r for r in pip_lists[0] if not r.startswith("-e")]
    python = next(d for d in conda if d.startswith("python"))
    return python, _pins(pip)


def test_every_dependency_is_pinned_exactly():
    pins = pyproject_pins()
    assert pins["torch"] == "2.13.0", "torch must stay at 2.13.0 (the offline CPU wheel)"
    assert {"numpy", "nbgrader", "nbval", "jupyterlab", "pytest"} <= set(pins)


def test_environment_yml_mirrors_pyproject():
    python, env = environment_pins()
    ours = pyproject_pins()
    assert python == "python=3.11"
    missing = {k: v for k, v in ours.items() if k not in env}
    extra = {k: v for k, v in env.items() if k not in ours}
    differ = {k: (ours[k], env[k]) for k in ours.keys() & env.keys() if ours[k] != env[k]}
    assert not (missing or extra or differ), (
        f"environment.yml disagrees with pyproject.toml: missing {missing}, "
        f"extra {extra}, different versions (pyproject, environment) {differ}"
    )


def test_environment_yml_installs_the_course_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip
