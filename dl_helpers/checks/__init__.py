"""Assertions for notebook test cells, with messages written for the student who reads them.

Every check raises ``AssertionError`` with a message that says what was expected and what
came back: the shape, the dtype, how many values differ and the worst one (its index, both
values and the tolerance), NaN/inf where finite numbers were expected, or ``None`` from a
function that forgot to ``return``.

=====================================  ====================================================
function                               checks
=====================================  ====================================================
``assert_close(actual, expected)``     type, shape, dtype, finiteness, then values
``assert_shape(actual, shape)``        shape only
``assert_dtype(actual, dtype)``        dtype only
``assert_no_warnings(func, *args)``    no overflow/invalid/divide error and no warning
``assert_not_mutated(func, *args)``    ``func`` leaves its array arguments unchanged
``assert_no_forbidden_calls(func)``    ``func`` does not use torch, scipy, ... (static)
``run_cases(func, cases)``             a table of cases, each with a ``why``
``tampering_report()``                 lines describing run-time tampering, if any
``assert_untampered()``                raises when ``tampering_report()`` is non-empty
=====================================  ====================================================

One idea per module: ``values`` (comparing results), ``calls`` (checks that call the
function), ``forbidden`` (the bytecode scanner), ``tamper`` (tamper detection), and
``_describe`` (how values are named in messages).

Which layer catches what
------------------------
Hidden tests run in the submission's own kernel, which the submission can rewrite. The
grader therefore decides points outside it; these checks serve the student (clear messages)
and make tampering costly and visible:

====================================================  ==========================================
attempt                                               caught by
====================================================  ==========================================
wrong values; a reference implementation (torch,      the grader's own check of the values,
``dl_helpers.activations``) standing in for the       outside the kernel, where those packages
answer; forged or patched test output                 cannot be imported (``dl_course.verify``):
                                                      the test's points are withheld
patching NumPy, builtins or these checks;             ``tampering_report`` in the kernel: every
exception hooks (``sys.excepthook``,                  check then fails ("Tests cannot be
``set_custom_exc``)                                   trusted"); and the grader's probes, which
                                                      fingerprint the kernel from outside
                                                      (``dl_course.integrity``): flagged
``checks.assert_close = ...``                         the read-only module: ``AttributeError``
writing into ``checks.__dict__``, swapping a          ``tampering_report`` (a snapshot taken at
function's ``__code__`` or defaults                   import) and the grader's probes: flagged
using torch/scipy/... in an answer                    ``assert_no_forbidden_calls`` (a message
                                                      for the student) and ``dl_course.verify``
====================================================  ==========================================

Dropped, now that values are verified outside the kernel: private copies of the NumPy
functions and builtins bound at import (they kept an in-kernel comparison right after NumPy
was patched *and* detection bypassed, a case the grader's own check covers for points and
its probes flag). In-process checks raise the cost of tampering; they cannot rule it out,
and grading does not rely on them alone. A test cell imports the helpers it calls in the
cell itself, so a notebook-level ``def assert_close(...)`` cannot shadow them.
"""

from __future__ import annotations

import sys

from dl_helpers.checks import _describe, calls, forbidden, tamper, values
from dl_helpers.checks.calls import assert_no_warnings, assert_not_mutated, run_cases
from dl_helpers.checks.forbidden import assert_no_forbidden_calls
from dl_helpers.checks.tamper import assert_untampered, tampering_report
from dl_helpers.checks.values import assert_close, assert_dtype, assert_shape

__all__ = [
    "assert_close",
    "assert_dtype",
    "assert_no_forbidden_calls",
    "assert_no_warnings",
    "assert_not_mutated",
    "assert_shape",
    "assert_untampered",
    "run_cases",
    "tampering_report",
]

# Last: from here on every module of the package is watched and read-only.
tamper.protect(sys.modules[__name__], _describe, calls, forbidden, tamper, values)
