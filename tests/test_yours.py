"""dl_helpers.yours: an experiment runs the student's function only when it is right."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
import torch

from dl_helpers import activations as ref
from dl_helpers import yours

PROBE = (np.array([-1e3, -40.0, -1.0, 0.0, 2.0, 1e3]),)


def _choose(namespace, capsys, probe=PROBE, reference=ref.sigmoid, **kwargs):
    chosen = yours.choose("sigmoid", reference, probe, namespace, **kwargs)
    return chosen, capsys.readouterr().out


def _stable_sigmoid(x):
    x = np.asarray(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def test_a_correct_answer_is_used(capsys):
    chosen, out = _choose({"sigmoid": _stable_sigmoid}, capsys)
    assert chosen is _stable_sigmoid
    assert out == "sigmoid: this experiment runs your function\n"


def test_an_unwritten_stub_falls_back_with_a_note(capsys):
    def sigmoid(x):
        raise NotImplementedError()

    chosen, out = _choose({"sigmoid": sigmoid}, capsys)
    assert chosen is ref.sigmoid
    assert out == (
        "sigmoid: the reference runs this experiment "
        "(yours is not written yet: NotImplementedError)\n"
    )


def test_a_missing_function_falls_back(capsys):
    chosen, out = _choose({}, capsys)
    assert chosen is ref.sigmoid
    assert "is not defined: run its answer cell" in out


def test_a_wrong_answer_falls_back_and_says_where(capsys):
    def sigmoid(x):  # a sign error: sigmoid(-x)
        return _stable_sigmoid(-np.asarray(x))

    chosen, out = _choose({"sigmoid": sigmoid}, capsys)
    assert chosen is ref.sigmoid
    # the worst element is at x = +-1e3 (1 instead of 0): index 0, difference 1
    assert "differs from it on a probe: largest difference 1 at index (0,)" in out


def test_another_error_falls_back_with_its_name(capsys):
    def sigmoid(x):
        return x.nonexistent

    chosen, out = _choose({"sigmoid": sigmoid}, capsys)
    assert chosen is ref.sigmoid
    assert "raised AttributeError: 'numpy.ndarray' object has no attribute 'nonexistent'" in out


def test_an_overflow_warning_counts_as_an_error(capsys):
    def sigmoid(x):  # right values in normal mode, but exp(1000) overflows
        return 1 / (1 + np.exp(-np.asarray(x)))

    chosen, out = _choose({"sigmoid": sigmoid}, capsys)
    assert chosen is ref.sigmoid
    assert "raised FloatingPointError: overflow encountered in exp" in out


def test_an_answer_that_modifies_its_input_falls_back(capsys):
    def sigmoid(x):
        out = _stable_sigmoid(x)
        x[...] = 0.0
        return out

    chosen, out = _choose({"sigmoid": sigmoid}, capsys)
    assert chosen is ref.sigmoid
    assert "(yours modified its input)" in out


def test_none_and_wrong_shapes_are_named(capsys):
    _, out = _choose({"sigmoid": lambda x: None}, capsys)
    assert "returned None (a missing `return`?)" in out
    _, out = _choose({"sigmoid": lambda x: _stable_sigmoid(x)[None]}, capsys)
    assert "returned shape (1, 6), expected (6,)" in out
    _, out = _choose({"sigmoid": 3.0}, capsys)
    assert "is a float, not a function" in out


def test_the_tolerance_decides_and_the_dtype_does_not(capsys):
    def slightly_off(x):  # a relative error of 1e-4
        return _stable_sigmoid(x) * (1 + 1e-4)

    assert _choose({"sigmoid": slightly_off}, capsys)[0] is ref.sigmoid
    assert _choose({"sigmoid": slightly_off}, capsys, rtol=1e-3)[0] is slightly_off

    def in_float32(x):
        return _stable_sigmoid(x).astype(np.float32)

    assert _choose({"sigmoid": in_float32}, capsys, rtol=1e-6, atol=1e-7)[0] is in_float32


def test_tuples_are_compared_item_by_item(capsys):
    probe = (np.array([-2.0, 0.0, 3.0]), np.array(1.5))

    def prelu_grad(x, a):
        return ref.prelu_grad(x, a)

    def prelu_grad_wrong(x, a):  # dy/da with the wrong sign
        dx, da = ref.prelu_grad(x, a)
        return dx, -da

    chosen = yours.choose("prelu_grad", ref.prelu_grad, probe, {"prelu_grad": prelu_grad})
    assert chosen is prelu_grad
    chosen = yours.choose("prelu_grad", ref.prelu_grad, probe, {"prelu_grad": prelu_grad_wrong})
    assert chosen is ref.prelu_grad
    out = capsys.readouterr().out
    assert "item 1: largest difference 4 at index (0,)" in out
    chosen = yours.choose("prelu_grad", ref.prelu_grad, probe, {"prelu_grad": lambda x, a: x})
    assert chosen is ref.prelu_grad
    assert "returned a ndarray where 2 values were expected" in capsys.readouterr().out


def test_function_arguments_and_quiet(capsys):
    # layer_grad_norms takes functions: a probe may hold them (no mutation check for them)
    rng = np.random.default_rng(0)
    x, weights = rng.standard_normal((4, 3)), [rng.standard_normal((3, 3)) for _ in range(3)]

    def by_torch(x, weights, act, act_grad):
        ws = [torch.tensor(w, requires_grad=True) for w in weights]
        h = torch.tensor(x)
        for w in ws:
            h = torch.tanh(h @ w)
        h.sum().backward()
        return np.array([w.grad.norm().item() for w in ws])

    def by_hand(x, weights, act, act_grad):
        hs, zs = [x], []
        for w in weights:
            zs.append(hs[-1] @ w)
            hs.append(act(zs[-1]))
        up, norms = np.ones_like(hs[-1]), np.zeros(len(weights))
        for k in reversed(range(len(weights))):
            delta = up * act_grad(zs[k])
            norms[k] = np.linalg.norm(hs[k].T @ delta)
            up = delta @ weights[k].T
        return norms

    probe = (x, weights, ref.tanh, ref.tanh_grad)
    chosen = yours.choose(
        "layer_grad_norms", by_torch, probe, {"layer_grad_norms": by_hand}, quiet=True
    )
    assert chosen is by_hand
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("got", "expected", "reason"),
    [
        (np.array([1.0, np.nan]), np.array([1.0, np.nan]), None),
        (np.array([1.0, np.nan]), np.array([1.0, 2.0]), "largest difference inf at index (1,)"),
        ({"a": 1.0}, {"a": 1.0}, None),
        ({"a": 1.0}, {"b": 1.0}, "returned a dict where a dict with keys ['b'] was expected"),
        (["x"], [1.0], "item 0: returned a str, not numbers"),
        (0.25, np.float64(0.25), None),
    ],
)
def test_difference(got, expected, reason):
    assert yours.difference(got, expected) == reason


def test_docstring_examples():
    result = doctest.testmod(yours, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0


def test_a_python_warning_counts_as_an_error(capsys):
    def sigmoid(x):  # right values, but it warns: the experiment's output would carry it
        warnings.warn("a slow path", UserWarning, stacklevel=1)
        return _stable_sigmoid(x)

    chosen, out = _choose({"sigmoid": sigmoid}, capsys)
    assert chosen is ref.sigmoid
    assert "raised UserWarning: a slow path" in out
