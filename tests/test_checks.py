"""dl_helpers.checks: each helper passes correct input and fails wrong input with a message
that says what was expected and what came back; tampering is detected."""

from __future__ import annotations

import builtins
import doctest
import json
import subprocess
import sys
import textwrap
import types
import warnings

import numpy as np
import pytest

from dl_helpers import activations, checks
from dl_helpers.checks import (
    assert_close,
    assert_dtype,
    assert_no_forbidden_calls,
    assert_no_warnings,
    assert_not_mutated,
    assert_shape,
    run_cases,
)


@pytest.fixture(autouse=True)
def _untampered_before_each_test():
    """Every test starts from a clean process: the tampering tests restore what they patch."""
    assert checks.tampering_report() == []


def notebook(source: str) -> dict:
    """Run ``source`` the way a notebook runs a cell: in a namespace of its own."""
    namespace = {"__name__": "__main__"}
    exec(textwrap.dedent(source), namespace)
    return namespace


def naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def stable_sigmoid(x):
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def relu_in_place(x):
    x[x < 0] = 0
    return x


# --- assert_close ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected", "kwargs"),
    [
        (np.array([0.5, 1.0]), np.array([0.5, 1.0]), {}),
        (np.array([1.0 + 5e-7]), np.array([1.0]), {}),  # within rtol
        (np.array([5e-9]), np.array([0.0]), {}),  # within atol
        (np.array([1.1]), np.array([1.0]), {"rtol": 0.2}),
        (0.5, 0.5, {}),  # Python scalars where a scalar is expected
        (np.float64(0.5), np.array(0.5), {}),
        (np.array(0.5), 0.5, {}),
        (np.float32(0.5), np.array(0.5, dtype=np.float32), {}),
        (np.array([np.nan, np.inf, -np.inf]), np.array([np.nan, np.inf, -np.inf]), {}),
        (np.array([1.0, 2.0]), [1.0, 2.0], {}),  # a list expected reads as an array
        (np.array([1, 2]), np.array([1, 2]), {}),
        (np.array([0.5], dtype=np.float32), np.array([0.5]), {"check_dtype": False}),
        (np.zeros((0, 3)), np.zeros((0, 3)), {}),
        ((np.ones(2), np.zeros(2)), (np.ones(2), np.zeros(2)), {}),  # several outputs
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, dict) else str(v),
)
def test_assert_close_passes(actual, expected, kwargs):
    assert_close(actual, expected, **kwargs)


class NotAnArray:
    pass


@pytest.mark.parametrize(
    ("actual", "expected", "message"),
    [
        (
            np.zeros((4, 3)),
            np.zeros((3, 4)),
            r"^sigmoid\(x\): expected shape \(3, 4\), got \(4, 3\)$",
        ),
        (np.zeros((3, 1)), np.zeros(3), r"^sigmoid\(x\): expected shape \(3,\), got \(3, 1\)$"),
        (np.zeros(1), 0.0, r"^sigmoid\(x\): expected shape \(\), got \(1,\)$"),
        (
            np.zeros(3),
            np.zeros(3, dtype=np.float32),
            r"^sigmoid\(x\): expected dtype float32, got float64 \(keep the input's dtype\)$",
        ),
        (
            None,
            np.zeros(3),
            r"^sigmoid\(x\): expected a NumPy array of shape \(3,\), but the function returned "
            r"None — did you forget `return`\?$",
        ),
        (None, 0.5, r"expected a number, but the function returned None — did you forget"),
        ([0.0, 0.0], np.zeros(2), r"expected a NumPy array of shape \(2,\), got a list \(wrap it"),
        ((0.0, 0.0), np.zeros(2), r"got a tuple"),
        (0.0, np.zeros(2), r"expected a NumPy array of shape \(2,\), got a Python float$"),
        (NotAnArray(), np.zeros(2), r"got an object of type [\w.]*NotAnArray$"),
        (np.array(["a", "b"]), [0.0, 0.0], r"expected numbers, got an array of dtype <U1$"),
        (
            np.array([1.0, np.nan, 3.0]),
            np.array([1.0, 2.0, 3.0]),
            r"^sigmoid\(x\): 1 of 3 values are NaN or inf where finite values were expected; "
            r"first at index \[1\]: expected 2\.0, got nan\.",
        ),
        (
            np.array([[0.0, np.inf]]),
            np.zeros((1, 2)),
            r"first at index \[0, 1\]: expected 0\.0, got inf",
        ),
        (np.array([1.0]), np.array([np.nan]), r"Worst at index \[0\]: expected nan, got 1\.0"),
        (np.array([-np.inf]), np.array([np.inf]), r"expected inf, got -inf"),
        (np.array(0.6), np.array(0.5), r"1 of 1 values differ .*\. Worst: expected 0\.5, got 0\.6"),
    ],
)
def test_assert_close_fails_with_a_message_saying_what_came_back(actual, expected, message):
    with pytest.raises(AssertionError, match=message):
        assert_close(actual, expected, name="sigmoid(x)")


def test_assert_close_reports_the_count_the_worst_element_and_the_tolerances():
    expected = np.arange(6.0).reshape(2, 3)
    actual = expected + np.array([[0.0, 1e-3, 0.0], [0.0, 0.5, 0.0]])  # worst: [1, 1]
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, name="f(x)")
    assert str(info.value) == (
        "f(x): 2 of 6 values differ from the expected ones (rtol=1e-06, atol=1e-08). "
        "Worst at index [1, 1]: expected 4.0, got 4.5 (difference 0.5, allowed 4.01e-06)."
    )


def test_assert_close_names_the_output_of_a_multi_output_function():
    with pytest.raises(AssertionError, match=r"^prelu_grad\(x, a\)\[1\]: 1 of 2 values differ"):
        assert_close(
            (np.ones(2), np.array([0.0, 1.0])), (np.ones(2), np.zeros(2)), name="prelu_grad(x, a)"
        )
    with pytest.raises(AssertionError, match=r"expected a tuple of 2 results, got a tuple of 3$"):
        assert_close((1.0, 2.0, 3.0), (1.0, 2.0))
    with pytest.raises(
        AssertionError, match=r"expected a tuple of 2 results, but the function returned None"
    ):
        assert_close(None, (1.0, 2.0))


def test_assert_close_views_an_ndarray_subclass_as_a_plain_array():
    class Lying(np.ndarray):
        def __eq__(self, other):
            return True

    with pytest.raises(AssertionError, match="1 of 1 values differ"):
        assert_close(np.array([2.0]).view(Lying), np.array([1.0]))


# --- assert_shape, assert_dtype ----------------------------------------------------------


def test_assert_shape():
    assert_shape(np.zeros((3, 4)), (3, 4))
    assert_shape(np.float64(1.0), ())
    assert_shape(1.0, ())
    with pytest.raises(
        AssertionError, match=r"^sigmoid\(x\): expected shape \(3, 4\), got \(4, 3\)$"
    ):
        assert_shape(np.zeros((4, 3)), (3, 4), name="sigmoid(x)")
    with pytest.raises(AssertionError, match=r"returned None — did you forget `return`\?"):
        assert_shape(None, (3, 4))
    with pytest.raises(AssertionError, match=r"got a list"):
        assert_shape([[0.0] * 4] * 3, (3, 4))


def test_assert_dtype():
    assert_dtype(np.zeros(2, dtype=np.float32), np.float32)
    assert_dtype(np.zeros(2), "float64")
    assert_dtype(1.0, np.float64)  # a Python float is a float64
    with pytest.raises(
        AssertionError,
        match=r"^sigmoid\(x\): expected dtype float32, got float64 \(keep the input's dtype\)$",
    ):
        assert_dtype(np.zeros(2), np.float32, name="sigmoid(x)")
    with pytest.raises(AssertionError, match=r"^result: expected dtype float64, got int64$"):
        assert_dtype(np.zeros(2, dtype=np.int64), np.float64)
    with pytest.raises(AssertionError, match=r"returned None"):
        assert_dtype(None, np.float64)


# --- assert_no_warnings ------------------------------------------------------------------


def test_assert_no_warnings_reports_an_overflow_with_the_input():
    x = np.array([-1000.0, 1.0])
    with pytest.raises(AssertionError) as info:
        assert_no_warnings(naive_sigmoid, x, name="sigmoid")
    assert str(info.value) == (
        "sigmoid(x) produced a warning for x = array([-1000.,     1.]): overflow encountered in exp"
    )


def test_assert_no_warnings_returns_the_result_and_allows_underflow():
    x = np.array([-1000.0, 0.0, 1000.0])  # exp(-1000) underflows to 0: correct, not an error
    np.testing.assert_array_equal(assert_no_warnings(stable_sigmoid, x), [0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (lambda x: np.log(x - 2.0), r"invalid value encountered in log"),
        (lambda x: 1.0 / (x - x), r"divide by zero encountered"),
        (lambda x: warnings.warn("careful", UserWarning, stacklevel=1) or x, r": careful$"),
        (lambda x: np.exp(np.float32(100) * x.astype(np.float32)), r"overflow encountered in exp"),
    ],
    ids=["invalid", "divide", "python warning", "float32 overflow"],
)
def test_assert_no_warnings_turns_each_kind_of_warning_into_a_failure(func, message):
    with pytest.raises(
        AssertionError,
        match=r"^<lambda>\(x\) produced a warning for x = array\(\[1\.\]\)" + ".*" + message,
    ):
        assert_no_warnings(func, np.array([1.0]))


def test_assert_no_warnings_names_every_argument_and_restores_the_error_state():
    state, filters = np.geterr(), list(warnings.filters)

    def scaled(x, alpha=1.0):
        return np.exp(alpha * x)

    with pytest.raises(
        AssertionError,
        match=r"^scaled\(x, alpha\) produced a warning for x = array\(\[1\.\]\), alpha = 1000\.0: "
        r"overflow",
    ):
        assert_no_warnings(scaled, np.array([1.0]), alpha=1000.0)
    assert np.geterr() == state and warnings.filters == filters


# --- assert_not_mutated ------------------------------------------------------------------


def test_assert_not_mutated_names_the_argument_and_the_first_change():
    with pytest.raises(AssertionError) as info:
        assert_not_mutated(relu_in_place, np.array([-1.0, 2.0, -3.0]), name="relu")
    assert str(info.value) == (
        "relu(x) modified its argument `x` (position 1) in place: 2 of 3 values changed, "
        "first at index [0]: was -1.0, now 0.0. Compute on a copy or build a new array instead."
    )


def test_assert_not_mutated_checks_every_positional_and_keyword_array():
    def scale_slope(x, a, *, upstream):
        a *= 2
        return x * a

    with pytest.raises(AssertionError, match=r"its argument `a` \(position 2\) in place"):
        assert_not_mutated(scale_slope, np.ones(3), np.ones(3), upstream=np.ones(3))

    def clear_upstream(x, *, upstream):
        upstream[...] = 0
        return x

    with pytest.raises(AssertionError, match=r"its keyword argument `upstream` in place"):
        assert_not_mutated(clear_upstream, np.ones(3), upstream=np.ones(3))


def test_assert_not_mutated_catches_a_reshape_and_a_0d_write():
    def flatten_in_place(x):
        x.shape = (-1,)
        return x

    with pytest.raises(
        AssertionError, match=r"it was float64 of shape \(2, 2\), now float64 of shape \(4,\)"
    ):
        assert_not_mutated(flatten_in_place, np.ones((2, 2)))

    def overwrite(x):
        x[...] = 5.0
        return x

    with pytest.raises(AssertionError, match=r"1 of 1 values changed, first: was 1\.0, now 5\.0"):
        assert_not_mutated(overwrite, np.array(1.0))


def test_assert_not_mutated_returns_the_result_and_accepts_nan_inputs():
    x = np.array([np.nan, -1.0, 2.0])
    result = assert_not_mutated(lambda x, n, items: activations.relu(x), x, 3, [1, 2])
    np.testing.assert_array_equal(result, [np.nan, 0.0, 2.0])


# --- run_cases ---------------------------------------------------------------------------

SIGMOID_CASES = [
    {
        "args": (np.array([0.0, 2.0]),),
        "expected": np.array([0.5, 0.8807970779778823]),
        "why": "moderate inputs",
    },
    {
        "args": (np.array([-1e4, 1e4]),),
        "expected": np.array([0.0, 1.0]),
        "why": "large inputs must saturate",
    },
]


def test_run_cases_passes_a_correct_function():
    run_cases(activations.sigmoid, SIGMOID_CASES)
    run_cases(
        activations.leaky_relu,
        [
            {
                "args": (np.array([-2.0]),),
                "kwargs": {"alpha": 0.5},
                "expected": np.array([-1.0]),
                "why": "kwargs",
            },
            {
                "args": ([1, -1],),
                "expected": [1.0, -0.01],
                "why": "list input",
                "atol": 1e-12,
                "rtol": 0,
            },
        ],
    )
    run_cases(
        activations.prelu_grad,
        [
            {
                "args": (np.array([2.0, -3.0]), 0.1),
                "expected": (np.array([1.0, 0.1]), np.array([0.0, -3.0])),
                "why": "two outputs",
            }
        ],
    )


def test_run_cases_failure_message_starts_with_why():
    def clipped_sigmoid(x):  # right for moderate inputs only
        return activations.sigmoid(np.clip(x, -10, 10))

    with pytest.raises(
        AssertionError,
        match=r"^large inputs must saturate \(case 2 of 2\): sigmoid\(x\): 2 of 2 values differ",
    ):
        run_cases(clipped_sigmoid, SIGMOID_CASES, name="sigmoid")


def test_run_cases_catches_a_mutating_function_and_leaves_the_table_intact():
    cases = [
        {
            "args": (np.array([-1.0, 2.0]),),
            "expected": np.array([0.0, 2.0]),
            "why": "negatives become 0",
        }
    ]
    with pytest.raises(
        AssertionError,
        match=r"^negatives become 0 \(case 1 of 1\): relu_in_place\(x\) modified its argument `x`",
    ):
        run_cases(relu_in_place, cases)
    np.testing.assert_array_equal(cases[0]["args"][0], [-1.0, 2.0])


def test_run_cases_reports_an_exception_inside_its_case():
    def broken(x):
        raise ZeroDivisionError("oops")

    with pytest.raises(
        AssertionError,
        match=r"^moderate inputs \(case 1 of 2\): broken\(x\) raised "
        r"ZeroDivisionError: oops$",
    ):
        run_cases(broken, SIGMOID_CASES)


def test_run_cases_lets_an_unanswered_stub_through():
    """NotImplementedError means "not attempted": validate and CI tell it from "wrong"."""

    def unfinished(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        run_cases(unfinished, SIGMOID_CASES)


def test_run_cases_checks_dtype_unless_told_not_to():
    cases = [
        {
            "args": (np.zeros(2, dtype=np.float32),),
            "expected": np.full(2, 0.5),
            "why": "float32 input",
        }
    ]
    with pytest.raises(AssertionError, match=r"expected dtype float64, got float32"):
        run_cases(activations.sigmoid, cases)
    run_cases(activations.sigmoid, [{**cases[0], "check_dtype": False}])


def test_run_cases_rejects_a_misspelt_key():
    with pytest.raises(
        TypeError, match=r"case 1: unknown keys \['expect'\], missing keys \['expected'\]"
    ):
        run_cases(activations.sigmoid, [{"args": (0.0,), "expect": 0.5, "why": "typo"}])


# --- assert_no_forbidden_calls -----------------------------------------------------------

FORBIDDEN = [
    (
        "torch.sigmoid",
        """
        import torch
        def sigmoid(x):
            return torch.sigmoid(torch.from_numpy(x)).numpy()
        """,
        r"^sigmoid must be written with numpy only: it uses torch\.sigmoid \(torch\)",
    ),
    (
        "import inside the function",
        """
        def sigmoid(x):
            import torch
            return torch.sigmoid(torch.from_numpy(x)).numpy()
        """,
        r"it uses `import torch` \(torch\)",
    ),
    (
        "from scipy.special import expit at module level",
        """
        from scipy.special import expit
        def sigmoid(x):
            return expit(x)
        """,
        r"^sigmoid must be written with numpy only: it uses expit \(scipy\.special\)$",
    ),
    (
        "F.relu",
        """
        import torch
        import torch.nn.functional as F
        def sigmoid(x):
            return F.relu(torch.as_tensor(x)).numpy()
        """,
        r"F\.relu \(torch\.nn\.functional\)",
    ),
    (
        "dl_helpers reference module",
        """
        from dl_helpers import activations as ref
        def sigmoid(x):
            return ref.sigmoid(x)
        """,
        r"it uses ref\.sigmoid \(dl_helpers\.activations\)$",
    ),
    (
        "dl_helpers reference function",
        """
        from dl_helpers.activations import sigmoid as _reference
        def sigmoid(x):
            return _reference(x)
        """,
        r"it uses _reference \(dl_helpers\.activations\)$",
    ),
    (
        "laundering helper",
        """
        import torch
        def _helper(x):
            return torch.sigmoid(torch.as_tensor(x)).numpy()
        def sigmoid(x):
            return _helper(x)
        """,
        r"torch\.sigmoid \(torch\) in helper _helper",
    ),
    (
        "helper of a helper",
        """
        from scipy import special
        def _inner(x):
            return special.expit(x)
        def _outer(x):
            return _inner(x)
        def sigmoid(x):
            return _outer(x)
        """,
        r"special\.expit \(scipy\.special\) in helper _inner",
    ),
    (
        "default argument",
        """
        import torch
        def sigmoid(x, _f=torch.sigmoid):
            return _f(x)
        """,
        r"a default argument value \(torch\)",
    ),
    (
        "closure",
        """
        import torch
        def make():
            f = torch.sigmoid
            def sigmoid(x):
                return f(x)
            return sigmoid
        sigmoid = make()
        """,
        r"it uses f \(torch\)",
    ),
    (
        "lambda inside the function",
        """
        import torch
        def sigmoid(x):
            g = lambda v: torch.sigmoid(v)
            return g(x)
        """,
        r"torch\.sigmoid \(torch\)",
    ),
    (
        "__import__ of a string",
        """
        def sigmoid(x):
            return __import__("torch").sigmoid(x)
        """,
        r"the string 'torch' \(torch\)",
    ),
]


@pytest.mark.parametrize(
    ("source", "message"), [f[1:] for f in FORBIDDEN], ids=[f[0] for f in FORBIDDEN]
)
def test_assert_no_forbidden_calls_flags(source, message):
    with pytest.raises(AssertionError, match=message):
        assert_no_forbidden_calls(notebook(source)["sigmoid"])


FORBIDDEN_TANH = [
    (
        "np.tanh",
        "import numpy as np\ndef tanh(x):\n    return np.tanh(x)",
        r"^tanh must not use tanh in this exercise: it uses np\.tanh$",
    ),
    ("alias", "from numpy import tanh as th\ndef tanh(x):\n    return th(x)", r"it uses th$"),
    ("math.tanh", "import math\ndef tanh(x):\n    return math.tanh(x)", r"it uses math\.tanh$"),
    (
        "getattr",
        "import numpy as np\ndef tanh(x):\n    return getattr(np, 'tanh')(x)",
        r"it uses the string 'tanh'$",
    ),
    ("method of a local", "def tanh(x):\n    return x.tanh()", r"it uses tanh$"),
]


@pytest.mark.parametrize(
    ("source", "message"), [f[1:] for f in FORBIDDEN_TANH], ids=[f[0] for f in FORBIDDEN_TANH]
)
def test_assert_no_forbidden_calls_flags_forbidden_attributes(source, message):
    with pytest.raises(AssertionError, match=message):
        assert_no_forbidden_calls(notebook(source)["tanh"], forbidden_attrs=("tanh",))


ALLOWED = [
    (
        "plain numpy",
        """
        import numpy as np
        def tanh(x):
            '''Unlike torch.tanh, this is numpy only.'''
            e = np.exp(-2 * np.abs(x))
            return np.sign(x) * (1 - e) / (1 + e)
        """,
    ),
    (
        "recursion under a forbidden name, numpy helpers, mutual recursion",
        """
        import numpy as np
        def _even(n):
            return n == 0 or _odd(n - 1)
        def _odd(n):
            return n != 0 and _even(n - 1)
        def _sigmoid(x):
            return 0.5 * (1 + np.sign(x) * (1 - np.exp(-np.abs(x))) / (1 + np.exp(-np.abs(x))))
        def tanh(x):
            if np.ndim(x) == 0 and _even(0):
                return tanh(np.atleast_1d(x))[0]
            return 2 * _sigmoid(2 * x) - 1
        """,
    ),
]


@pytest.mark.parametrize("source", [a[1] for a in ALLOWED], ids=[a[0] for a in ALLOWED])
def test_assert_no_forbidden_calls_passes_numpy_code(source):
    tanh = notebook(source)["tanh"]
    assert_no_forbidden_calls(tanh, forbidden_attrs=("tanh",))
    np.testing.assert_allclose(tanh(np.array([-1.0, 0.5])), np.tanh([-1.0, 0.5]))


def test_assert_no_forbidden_calls_passes_the_reference_implementations():
    for func in (activations.sigmoid, activations.softmax, activations.prelu_grad):
        assert_no_forbidden_calls(func, forbidden_modules=("torch", "scipy"))


def test_assert_no_forbidden_calls_unwraps_methods_and_rejects_other_callables():
    namespace = notebook(
        """
        import torch
        class Activation:
            def forward(self, x):
                return torch.relu(x)
        """
    )
    with pytest.raises(
        AssertionError, match=r"^forward must be written with numpy only: it uses torch\.relu"
    ):
        assert_no_forbidden_calls(namespace["Activation"]().forward)
    with pytest.raises(TypeError, match="expected a Python function"):
        assert_no_forbidden_calls(np.tanh)


# --- tamper resistance -------------------------------------------------------------------


def always_true(*args, **kwargs):
    return True


def test_patched_numpy_comparisons_are_reported_and_do_not_pass_a_wrong_answer(monkeypatch):
    for attr in ("allclose", "isclose", "array_equal"):
        monkeypatch.setattr(np, attr, always_true)
    monkeypatch.setattr(np.testing, "assert_allclose", lambda *a, **k: None)
    report = checks.tampering_report()
    for attr in (
        "numpy.allclose",
        "numpy.isclose",
        "numpy.array_equal",
        "numpy.testing.assert_allclose",
    ):
        assert f"{attr} was replaced at run time" in report
    with pytest.raises(
        AssertionError, match=r"^Tests cannot be trusted: numpy\.allclose was replaced"
    ):
        assert_close(np.array([1.0]), np.array([2.0]))


def test_module_attributes_cannot_be_rebound_or_deleted():
    with pytest.raises(
        AttributeError, match=r"^dl_helpers\.checks is read-only: tests must not be patched$"
    ):
        checks.assert_close = lambda *a, **k: None
    with pytest.raises(AttributeError, match="read-only"):
        del checks.assert_close
    with pytest.raises(AttributeError, match="read-only"):
        checks._np = None
    with pytest.raises(AttributeError, match="read-only"):
        checks.__class__ = types.ModuleType
    assert checks.assert_close is assert_close


def test_writing_into_the_module_dict_is_reported(monkeypatch):
    monkeypatch.setitem(checks.__dict__, "assert_close", lambda *a, **k: None)
    assert (
        "dl_helpers.checks.assert_close was replaced or modified at run time"
        in checks.tampering_report()
    )
    with pytest.raises(
        AssertionError, match=r"^Tests cannot be trusted: dl_helpers\.checks\.assert_close"
    ):
        assert_close(np.array([1.0]), np.array([1.0]))  # the original, imported before the patch


def test_swapping_code_or_defaults_of_a_check_is_reported(monkeypatch):
    monkeypatch.setattr(assert_shape, "__code__", (lambda *a, **k: None).__code__)
    assert (
        "dl_helpers.checks.assert_shape was replaced or modified at run time"
        in checks.tampering_report()
    )
    monkeypatch.undo()
    monkeypatch.setitem(assert_close.__kwdefaults__, "rtol", 1.0)
    assert (
        "dl_helpers.checks.assert_close was replaced or modified at run time"
        in checks.tampering_report()
    )


def test_a_custom_excepthook_is_reported(monkeypatch):
    monkeypatch.setattr(sys, "excepthook", lambda *args: None)
    assert checks.tampering_report() == [
        "sys.excepthook was replaced at run time (it can hide failing tests)"
    ]
    with pytest.raises(AssertionError, match=r"^Tests cannot be trusted: sys\.excepthook"):
        assert_shape(np.zeros(2), (2,))


def test_patched_builtins_are_reported(monkeypatch):
    monkeypatch.setattr(builtins, "isinstance", lambda *args: True)
    report = checks.tampering_report()
    monkeypatch.undo()  # now, not at teardown: pytest itself needs the real isinstance
    assert report == ["builtins.isinstance was replaced at run time"]


@pytest.mark.parametrize(
    "call",
    [
        lambda: assert_close(1.0, 1.0),
        lambda: assert_shape(np.zeros(1), (1,)),
        lambda: assert_dtype(np.zeros(1), np.float64),
        lambda: assert_no_warnings(abs, 1.0),
        lambda: assert_not_mutated(abs, 1.0),
        lambda: assert_no_forbidden_calls(stable_sigmoid),
        lambda: run_cases(abs, []),
        checks.assert_untampered,
    ],
    ids=[
        "close",
        "shape",
        "dtype",
        "no_warnings",
        "not_mutated",
        "forbidden",
        "run_cases",
        "untampered",
    ],
)
def test_every_public_check_refuses_to_run_in_a_tampered_process(monkeypatch, call):
    call()  # passes while nothing is patched
    monkeypatch.setattr(np, "isclose", always_true)
    with pytest.raises(
        AssertionError, match=r"^Tests cannot be trusted: numpy\.isclose was replaced at run time$"
    ):
        call()


IPYTHON_SESSION = """
import json
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell

config = Config()
config.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=config)
cells = [
    "import numpy as np\\nfrom dl_helpers import checks",
    "checks.assert_close(np.ones(2), np.ones(2))\\nreports = [checks.tampering_report()]",
    "reports.append(checks.tampering_report())",
    "get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)",
    "reports.append(checks.tampering_report())",
]
for cell in cells:
    result = shell.run_cell(cell)
    if result.error_before_exec or result.error_in_exec:
        raise SystemExit(repr(result))
print(json.dumps(shell.user_ns["reports"]))
"""


def test_no_false_alarm_across_ipython_cells_and_custom_exception_handler_reported():
    # IPython installs a new bound-method excepthook around every cell: that is not tampering.
    run = subprocess.run(
        [sys.executable, "-c", IPYTHON_SESSION],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    first, second, third = json.loads(run.stdout.strip().splitlines()[-1])
    assert first == second == []
    assert third == [
        "an IPython custom exception handler is installed (set_custom_exc): "
        "it can hide failing tests"
    ]


def test_docstring_examples_are_correct():
    modules = (checks, checks.values, checks.calls, checks.forbidden, checks.tamper)
    results = [doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE) for m in modules]
    assert sum(r.attempted for r in results) >= 10 and sum(r.failed for r in results) == 0


def test_every_module_of_the_package_is_read_only_and_watched(monkeypatch):
    for module in (checks, checks.values, checks.calls, checks.forbidden, checks.tamper):
        with pytest.raises(AttributeError, match=rf"^{module.__name__} is read-only"):
            module.assert_untampered = None
    # a private helper the public checks rely on, replaced through its module's dict
    monkeypatch.setitem(checks.values.__dict__, "_check_values", lambda *a, **k: None)
    assert checks.tampering_report() == [
        "dl_helpers.checks.values._check_values was replaced or modified at run time"
    ]
    with pytest.raises(AssertionError, match=r"^Tests cannot be trusted: dl_helpers\.checks\."):
        assert_close(np.array([2.0]), np.array([1.0]))
