"""The tamper checks, fast: the static scan on source text, and the run-time probe cells
(``kernel_code.tamper_probe``) run in a real IPython shell around cells that tamper."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dl_course import integrity

WATCHED = ["builtins", "dl_helpers.checks", "numpy", "numpy.testing"]

SESSION = """
import contextlib, io, json, sys
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell

config = Config()
config.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=config)
probe, cells = json.loads(sys.argv[1])
outputs = []
for cell in ["import numpy as np\\nfrom dl_helpers import checks", probe, *cells, probe]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        shell.run_cell(cell)
    outputs.append(buffer.getvalue())
print(json.dumps([outputs[1], outputs[-1]]))
"""


def _tampering(*cells: str) -> list[str]:
    """What ``compare_probes`` reports for ``cells`` run between the baseline probe and the
    probe after a test cell ``test_x``."""
    probe = integrity.probe_source(WATCHED, {"np": "numpy"})
    run = subprocess.run(
        [sys.executable, "-c", SESSION, json.dumps([probe, list(cells)])],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    before, after = json.loads(run.stdout.strip().splitlines()[-1])
    baseline, report = integrity.parse_probe([before]), integrity.parse_probe([after])
    assert baseline is not None, "the baseline probe printed no report"
    return integrity.compare_probes(
        baseline, [("test_x", report)], integrity.trusted_origins(WATCHED)
    )


def test_a_clean_cell_is_no_tampering():
    assert _tampering("x = np.ones(3)\nchecks.assert_close(x, np.ones(3))\nprint('fine')") == []


@pytest.mark.parametrize(
    "cell, reason",
    [
        ("np.allclose = lambda *a, **k: True", "numpy.allclose replaced"),
        ("import builtins\nbuiltins.len = lambda x: 0", "builtins.len replaced"),
        ("checks.__dict__['assert_close'] = lambda *a, **k: None",
         "dl_helpers.checks.assert_close replaced"),
        ("np = __import__('math')", "name 'np' no longer refers to its module"),
        ("get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)",
         "custom exception handler installed"),
        ("get_ipython().showtraceback = lambda *a, **k: None",
         "IPython shell methods overridden: showtraceback"),
    ],
    ids=["numpy", "builtins", "checks-dict", "alias", "custom-exc", "shell"],
)  # fmt: skip
def test_runtime_tampering_is_reported(cell, reason):
    found = _tampering(cell)
    assert any(reason in line and "(first seen after test_x)" in line for line in found), found


def test_a_cell_that_swallows_the_next_probe_is_tampering():
    found = _tampering("get_ipython().run_cell = lambda *a, **k: None")
    assert found == ["the grader's probe after test_x produced no report (first seen after test_x)"]


def test_a_probe_that_printed_nothing_is_itself_tampering():
    baseline = {"ids": {}, "files": {}, "aliases": {}, "hooks": [], "tampering": []}
    found = integrity.compare_probes(baseline, [("test_x", None)], {})
    assert found == ["the grader's probe after test_x produced no report (first seen after test_x)"]
    assert integrity.compare_probes(None, [], {}) == [
        "the grader's baseline probe produced no report"
    ]


@pytest.mark.parametrize(
    "source, reason",
    [
        ("import numpy as np\nnp.allclose = lambda *a, **k: True",
         "assigns to an attribute of a library module"),
        ("import sys\nsys.excepthook = None", "replaces sys.excepthook"),
        ("setattr(np, 'isclose', None)", "setattr on a module"),
        ("open('/etc/passwd').read()", "opens a path outside the working folder"),
        ("get_ipython().input_transformers_post.append(f)", "hooks cell execution"),
        ("import sys\nsys.modules['numpy'] = fake", "replaces an imported module"),
    ],
)  # fmt: skip
def test_static_scan_flags_suspicious_source(source, reason):
    assert reason in integrity.scan_source([source])


def test_static_scan_leaves_ordinary_answers_alone():
    answer = (
        "def relu(x):\n    out = np.maximum(x, 0.0)\n    assert out.shape == x.shape\n"
        "    return out\n\nscores = {'a': 1}\nscores['a'] = 2\nnp.testing  # a mention\n"
    )
    assert integrity.scan_source([answer]) == []
