"""``assert_no_forbidden_calls``: reading a function's bytecode for a forbidden library.

A static check, run in the kernel: it catches the honest shortcut (``torch.sigmoid``,
``scipy.special.expit``, ``np.tanh`` where ``tanh`` is the exercise) with a message that names
it. The grader does not rely on it: its own check of the values runs where those packages
cannot be imported at all (``dl_course.verify``).
"""

from __future__ import annotations

import dis
import inspect
import math
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

import numpy as np

from dl_helpers.checks._describe import _function_name, _type_phrase
from dl_helpers.checks.tamper import assert_untampered

_MISSING = object()
_NUMPY_UFUNCS = frozenset(v for v in vars(np).values() if isinstance(v, np.ufunc))
_DEFAULT_FORBIDDEN = ("torch", "scipy", "sklearn", "dl_helpers", "jax", "tensorflow")


class _Rules(NamedTuple):
    """What assert_no_forbidden_calls looks for."""

    modules: tuple[str, ...]  # forbidden top-level modules and packages
    attrs: frozenset[str]  # forbidden attribute names, e.g. {"tanh"}
    attr_objects: tuple[object, ...]  # what those names are in numpy and math (np.tanh)

    def is_forbidden_module(self, module_name: str) -> bool:
        return any(module_name == m or module_name.startswith(m + ".") for m in self.modules)

    def is_forbidden_attr(self, value: object) -> bool:
        return any(value is forbidden for forbidden in self.attr_objects)


def _make_rules(modules: Iterable[str], attrs: Iterable[str]) -> _Rules:
    attrs = frozenset(attrs)
    objects = tuple(
        getattr(owner, attr) for attr in attrs for owner in (np, math) if hasattr(owner, attr)
    )
    return _Rules(tuple(modules), attrs, objects)


def _ufunc_home(ufunc: np.ufunc, rules: _Rules) -> str | None:
    """The shallowest forbidden module holding ``ufunc``: ufuncs carry no ``__module__``."""
    if ufunc in _NUMPY_UFUNCS:
        return "numpy"
    candidates = sorted(
        (name for name in list(sys.modules) if rules.is_forbidden_module(name)),
        key=lambda name: (name.count("."), name),
    )
    for module_name in candidates:
        module_dict = getattr(sys.modules.get(module_name), "__dict__", {})
        if any(value is ufunc for value in list(module_dict.values())):
            return module_name
    return None


def _home_module(value: object, rules: _Rules) -> str | None:
    """The module ``value`` is, or was defined in, when known."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, np.ufunc):
        return _ufunc_home(value, rules)
    try:
        module = getattr(value, "__module__", None)
    except Exception:  # a user object's __getattr__ may raise anything
        return None
    return module if isinstance(module, str) else None


def _forbidden_home(values: Iterable[object], rules: _Rules) -> str | None:
    """The first forbidden module among the homes of ``values``, else None."""
    for value in values:
        home = _home_module(value, rules)
        if home is not None and rules.is_forbidden_module(home):
            return home
    return None


def _static_attribute(value: object, attr: str) -> object:
    """``value.attr`` without running user code (properties, ``__getattr__``)."""
    if isinstance(value, types.ModuleType):
        found = vars(value).get(attr, _MISSING)
        # a submodule not yet bound as an attribute (lazy packages) is still in sys.modules
        return found if found is not _MISSING else sys.modules.get(f"{value.__name__}.{attr}")
    return inspect.getattr_static(value, attr, _MISSING)


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    """``code`` and every code object nested in it (inner functions, lambdas, comprehensions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _is_notebook_function(value: object, func: types.FunctionType) -> bool:
    """A plain function defined alongside ``func`` (same globals or module): a helper."""
    return isinstance(value, types.FunctionType) and (
        value.__globals__ is func.__globals__ or value.__module__ == func.__module__
    )


def _resolve_name(func: types.FunctionType, opname: str, name: str) -> object:
    """The object a global or closure variable of ``func`` refers to now, if known."""
    if opname in ("LOAD_DEREF", "LOAD_CLASSDEREF"):
        freevars = func.__code__.co_freevars
        if name in freevars and func.__closure__:
            try:
                return func.__closure__[freevars.index(name)].cell_contents
            except ValueError:  # an empty cell: assigned later
                return _MISSING
        return _MISSING
    found = func.__globals__.get(name, _MISSING)
    return found if found is not _MISSING else func.__builtins__.get(name, _MISSING)


_NAME_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF"})
_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})


class _Scan(NamedTuple):
    """What a function uses: problems as (kind, text), kind "module" or "attr"; helpers."""

    problems: list[tuple[str, str]]
    helpers: list[types.FunctionType]


class _Chain(NamedTuple):
    """A dotted expression being read, ``F.relu``: its names and the objects they denote."""

    names: list[str]
    objects: list[object]


def _close_chain(chain: _Chain, rules: _Rules, scan: _Scan) -> None:
    """Record a problem for a finished dotted expression, then reset it."""
    text = ".".join(chain.names)
    home = _forbidden_home(chain.objects, rules)
    if home is not None:
        scan.problems.append(("module", f"{text} ({home})"))
    elif any(n in rules.attrs for n in chain.names) or any(
        rules.is_forbidden_attr(o) for o in chain.objects
    ):
        scan.problems.append(("attr", text))
    chain.names.clear()
    chain.objects.clear()


def _scan_code(code: types.CodeType, func: types.FunctionType, rules: _Rules, scan: _Scan) -> None:
    """Add to ``scan`` what ``code`` (part of ``func``) uses that the rules forbid.

    A dotted expression (``torch.nn.functional.relu``, ``F.relu``) is read attribute by
    attribute from the global or closure variable it starts at, so the message can name
    the whole expression and the module it resolves to.
    """
    chain = _Chain([], [])
    for ins in dis.get_instructions(code):
        op, arg = ins.opname, ins.argval
        if op in _ATTR_OPS and chain.names:
            chain.names.append(arg)
            chain.objects.append(_static_attribute(chain.objects[-1], arg))
            continue
        if chain.names:
            _close_chain(chain, rules, scan)
        if op in _NAME_OPS:
            value = _resolve_name(func, op, arg)
            if _is_notebook_function(value, func):  # followed, not judged by its name
                scan.helpers.append(value)
            else:
                chain.names.append(arg)
                chain.objects.append(value)
        elif op in _ATTR_OPS or op == "IMPORT_FROM":  # attribute of a local: name only
            if arg in rules.attrs:
                scan.problems.append(("attr", arg))
        elif op == "IMPORT_NAME" and rules.is_forbidden_module(arg):
            scan.problems.append(("module", f"`import {arg}` ({arg})"))
        elif op == "LOAD_CONST" and isinstance(arg, str):
            if rules.is_forbidden_module(arg):  # __import__("torch"), sys.modules["torch"]
                scan.problems.append(("module", f"the string {arg!r} ({arg})"))
            elif arg in rules.attrs:  # getattr(np, "tanh")
                scan.problems.append(("attr", f"the string {arg!r}"))
    if chain.names:
        _close_chain(chain, rules, scan)


def _scan_function(func: types.FunctionType, rules: _Rules) -> _Scan:
    scan = _Scan([], [])
    defaults = [*(func.__defaults__ or ()), *(func.__kwdefaults__ or {}).values()]
    home = _forbidden_home(defaults, rules)  # def f(x, _sig=torch.sigmoid) hides the call
    if home is not None:
        scan.problems.append(("module", f"a default argument value ({home})"))
    for code in _code_objects(func.__code__):
        _scan_code(code, func, rules, scan)
    return scan


def _forbidden_uses(func: types.FunctionType, rules: _Rules) -> list[tuple[str, str]]:
    """Problems in ``func`` and in every notebook helper it reaches, each reported once."""
    problems: list[tuple[str, str]] = []
    pending = [(func, "")]
    visited: set[types.CodeType] = set()
    while pending:
        current, via = pending.pop()
        if current.__code__ in visited:
            continue
        visited.add(current.__code__)
        scan = _scan_function(current, rules)
        problems += [(kind, text + via) for kind, text in scan.problems]
        pending += [(helper, f" in helper {helper.__name__}") for helper in scan.helpers]
    return list(dict.fromkeys(problems))


def assert_no_forbidden_calls(
    func: Callable,
    *,
    forbidden_modules: Iterable[str] = _DEFAULT_FORBIDDEN,
    forbidden_attrs: Iterable[str] = (),
    name: str | None = None,
) -> None:
    """Assert, by reading its bytecode, that ``func`` uses no forbidden library.

    Without running ``func``, every name it loads is resolved the way Python would resolve
    it (globals, builtins, closure cells; then attribute by attribute), including in nested
    functions and lambdas, default argument values, and notebook helpers it calls (plain
    functions defined in the same module, followed recursively so that a helper cannot
    launder a ``torch`` call). It fails when any of these is found:

    * an object from ``forbidden_modules`` or a submodule: ``torch.sigmoid``, ``F.relu``
      with ``F = torch.nn.functional``, ``expit`` imported from ``scipy.special``,
      ``ref.sigmoid`` with ``ref = dl_helpers.activations``;
    * an ``import`` of such a module inside the function, or its name as a string;
    * an attribute or global in ``forbidden_attrs`` (``("tanh",)`` catches ``np.tanh``,
      ``math.tanh``, ``from numpy import tanh``), other than a notebook function of that
      name (so a recursive ``tanh`` is fine), or the name as a string.

    A static check cannot see through ``eval`` or computed strings; it catches the honest
    shortcut, not every determined evasion.

    Args:
        func: a plain Python function (a bound method is unwrapped to its function).
        forbidden_modules: top-level packages that ``func`` must not touch.
        forbidden_attrs: attribute names that ``func`` must not use, e.g. ``("tanh",)``.
        name: how ``func`` is called in messages; defaults to ``func.__name__``.

    Example:
        >>> import math
        >>> def sigmoid(x):
        ...     return 1 / (1 + math.exp(-x))
        >>> assert_no_forbidden_calls(sigmoid, forbidden_attrs=("exp",))
        Traceback (most recent call last):
        ...
        AssertionError: sigmoid must not use exp in this exercise: it uses math.exp
    """
    assert_untampered()
    func = getattr(func, "__func__", func)
    if not isinstance(func, types.FunctionType):
        raise TypeError(f"expected a Python function, got {_type_phrase(func)}")
    rules = _make_rules(forbidden_modules, forbidden_attrs)
    problems = _forbidden_uses(func, rules)
    label = _function_name(func, name)
    modules = [text for kind, text in problems if kind == "module"]
    attrs = [text for kind, text in problems if kind == "attr"]
    sentences = []
    if modules:
        sentences.append(f"{label} must be written with numpy only: it uses {', '.join(modules)}")
    if attrs:
        banned = ", ".join(sorted(rules.attrs))
        uses = ", ".join(attrs)
        sentences.append(f"{label} must not use {banned} in this exercise: it uses {uses}")
    if sentences:
        raise AssertionError(". ".join(sentences))
