"""Detecting attempts to pass tests without solving them.

Two checks, both run by the trusted grader:

- **Static scan** of the code the student wrote (``scan_source``): patterns such as replacing
  ``sys.excepthook``, assigning to attributes of numpy/dl_helpers, hooking IPython's cell
  execution, or touching the gradebook or ``solutions/``. A hit only *flags* the submission
  for review (score kept): such text can be innocent.
- **Runtime probes** (``probe_source``, the code of ``kernel_code.tamper_probe``): trusted
  cells the grader runs in the submission's kernel -- one before any student code (the
  baseline) and one after every test cell. Each prints one ``DLGRADER-PROBE`` JSON line:
  identities of the callables of the watched modules (numpy, the dl_helpers modules the
  notebook imports, builtins), where those modules were loaded from, the notebook's module
  aliases (``np`` must still be numpy), exception hooks, IPython's input/AST transformers and
  shell overrides, and ``dl_helpers.checks.tampering_report()``. The outputs are captured
  outside the sandbox by the executor, so a later cell cannot rewrite them.
  ``compare_probes`` turns differences into reasons, which flag the submission for review.

Neither check decides points: those come from the grader's own check of the values outside
the kernel (``verify``), which a tampered kernel cannot pass without the right values. The
flags tell a human where a submission tried.

Limit: student code owns its kernel, so a determined student can in principle forge a
probe's output by taking over IPython itself; the static scan and the probes together make
that visible in all the ways we know of, and the flag asks a human to look.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re

from dl_course.kernel_code import call_cell
from dl_course.kernel_code.tamper_probe import __dlgrader_probe

PROBE_MARK = "DLGRADER-PROBE "
WATCHED_ROOTS = ("numpy", "dl_helpers")
ALWAYS_WATCHED = ("builtins", "numpy", "numpy.testing", "dl_helpers.checks")
# Builtins the kernel itself rebinds while it runs (stdin forwarding, display helpers).
TRUSTED_CALLBACK_PACKAGES = ("IPython", "ipykernel", "matplotlib", "matplotlib_inline")
VOLATILE_NAMES = ("input", "raw_input", "getpass", "display", "get_ipython", "exit", "quit")

STATIC_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"sys\s*\.\s*excepthook", "replaces sys.excepthook"),
    (r"set_custom_exc|custom_exceptions", "installs an IPython exception handler"),
    (r"showtraceback|_showtraceback", "overrides IPython's traceback display"),
    (
        r"\b(?:np|numpy|ref|checks|plotting|dl_helpers|activations)(?:\.\w+)+\s*=(?!=)",
        "assigns to an attribute of a library module",
    ),
    (r"setattr\s*\(\s*(?:np|numpy|checks|ref|dl_helpers|builtins|sys)\b", "setattr on a module"),
    (r"__dict__\s*\[|vars\s*\(\s*(?:np|numpy|checks|ref|builtins)", "edits a module's __dict__"),
    (r"\bbuiltins\b|__builtins__", "touches builtins"),
    (r"sys\s*\.\s*modules\s*\[[^\]]*\]\s*=(?!=)", "replaces an imported module"),
    (r"input_transformers|ast_transformers|events\s*\.\s*register", "hooks cell execution"),
    (r"\bgradebook\b", "mentions the gradebook"),
    (r"solutions/|\bsolutions\b\s*['\"]", "reads solutions/"),
    (
        r"(?:open|Path|listdir|scandir|glob)\s*\(\s*f?['\"](?:/|\.\./|~)",
        "opens a path outside the working folder",
    ),  # noqa: E501
    (r"settrace|setprofile", "installs a trace function"),
)


def scan_source(sources: list[str]) -> list[str]:
    """Reasons (deduplicated, in pattern order) for suspicious text in student ``sources``."""
    text = "\n".join(sources)
    return [reason for pattern, reason in STATIC_PATTERNS if re.search(pattern, text)]


def notebook_imports(sources: list[str]) -> tuple[dict[str, str], list[str]]:
    """Module aliases bound by import statements in ``sources`` (``{"np": "numpy"}``) and the
    watched modules among the imported names (e.g. ``dl_helpers.activations``)."""
    aliases: dict[str, str] = {}
    modules: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for name in node.names:
                    if name.asname:
                        aliases[name.asname] = name.name
                    else:
                        aliases[name.name.split(".")[0]] = name.name.split(".")[0]
                    modules.add(name.name)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
                for name in node.names:
                    full = f"{node.module}.{name.name}"
                    if _is_module(full):
                        aliases[name.asname or name.name] = full
                        modules.add(full)
    watched = sorted(m for m in modules if m.split(".")[0] in WATCHED_ROOTS)
    return aliases, watched


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def trusted_origins(modules: list[str]) -> dict[str, str | None]:
    """Where the grader itself finds each module (``None``: built in or not installed)."""
    origins = {}
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origins[name] = spec.origin if spec and spec.has_location else None
    return origins


def probe_source(modules: list[str], aliases: dict[str, str]) -> str:
    """The code of a probe cell (``kernel_code.tamper_probe``; see the module docstring)."""
    return call_cell(
        __dlgrader_probe, PROBE_MARK, modules, aliases, VOLATILE_NAMES, TRUSTED_CALLBACK_PACKAGES
    )


def parse_probe(texts: list[str]) -> dict | None:
    """The report in a probe cell's stdout, or ``None`` when there is none."""
    for text in texts:
        for line in text.splitlines():
            if line.startswith(PROBE_MARK):
                try:
                    return json.loads(line[len(PROBE_MARK) :])
                except json.JSONDecodeError:
                    return None
    return None


def compare_probes(
    baseline: dict | None, probes: list[tuple[str, dict | None]], origins: dict[str, str | None]
) -> list[str]:
    """Reasons for tampering, from the baseline report and later ``(after_cell, report)``.

    A missing report (a probe that printed nothing parseable) is itself a reason: student code
    that swallows the grader's cells is tampering with the run.
    """
    if baseline is None:
        return ["the grader's baseline probe produced no report"]
    first_seen: dict[str, str] = {}
    for where, report in probes:
        if report is None:
            first_seen.setdefault(f"the grader's probe after {where} produced no report", where)
            continue
        found = _differences(baseline, report) + [
            f"module {name} loaded from {path}, not {origins[name]}"
            for name, path in report["files"].items()
            if origins.get(name) and path != origins[name]
        ]
        for message in found:
            first_seen.setdefault(message, where)
    return [f"{message} (first seen after {where})" for message, where in first_seen.items()]


def _differences(baseline: dict, report: dict) -> list[str]:
    found = list(report.get("tampering", [])) + list(report.get("hooks", []))
    for module, ids in baseline["ids"].items():
        now = report["ids"].get(module, {})
        changed = sorted(k for k, v in ids.items() if k in now and now[k] != v)
        if changed:
            found.append(f"{module}.{', '.join(changed[:5])} replaced")
    found += [
        f"name {a!r} no longer refers to its module"
        for a, ok in report["aliases"].items()
        if not ok
    ]
    new_overrides = sorted(set(report.get("overridden", [])) - set(baseline.get("overridden", [])))
    if new_overrides:
        found.append(f"IPython shell methods overridden: {', '.join(new_overrides)}")
    return found
