"""Tamper detection inside the kernel: ``tampering_report`` and ``assert_untampered``.

What it watches (``_WATCHED``, taken at import): the NumPy and builtin functions tests compare
with, ``sys.excepthook`` and IPython's custom exception handler; and, through ``protect``,
every name of the ``dl_helpers.checks`` modules (rebinding, or swapping a function's
``__code__`` or defaults), whose module objects also refuse attribute assignment
(``checks.assert_close = ...`` raises ``AttributeError``; a write into ``__dict__`` is what
the report then names).
"""

from __future__ import annotations

import builtins
import itertools
import operator
import sys
import types
from typing import Any

import numpy as np
import numpy.testing

# The detector must not be fooled by what it detects: the functions below look builtins up in
# this private copy (CPython gives each function the builtins of the module globals it is
# created in), and the two library functions they use are bound here, at import.
__builtins__ = dict(builtins.__dict__)
_chain = itertools.chain.from_iterable
_is = operator.is_

_MISSING = object()
_PACKAGE = __name__.rpartition(".")[0]

# (b) What tampering_report watches outside this module: (label, owner, attribute, original).
# Tuples, not dicts, so that the record itself cannot be edited in place.
_WATCHED = tuple(
    (f"{label}.{attr}", owner, attr, getattr(owner, attr))
    for label, owner, names in (
        ("numpy", np, "allclose isclose array_equal asarray array abs all any isfinite"),
        ("numpy", np, "exp log tanh maximum"),  # what activation tests compare against
        ("numpy.testing", numpy.testing, "assert_allclose assert_array_equal"),
        ("builtins", builtins, "__import__ isinstance abs all any len AssertionError"),
    )
    for attr in names.split()
)
_EXCEPTHOOK = sys.excepthook
_EXCEPTHOOK = sys.excepthook
# (module, read-only snapshot of its namespace) for every protected module; filled once by
# ``protect``, in place, so that this module's own snapshot records this very list.
_PROTECTED: list[tuple[types.ModuleType, types.MappingProxyType]] = []


def _fingerprint(value: object) -> tuple[object, ...]:
    """The objects that must stay identical for ``value`` to be unchanged.

    A function is also changed when its code or defaults are swapped (``f.__code__ = ...``);
    a class defined here when one of its attributes is.
    """
    if isinstance(value, types.FunctionType):
        kwdefaults = value.__kwdefaults__ or {}
        pairs = _chain(kwdefaults.items())
        return (value, value.__code__, value.__defaults__, *pairs)
    if isinstance(value, type) and value.__module__.startswith(_PACKAGE):
        return (value, *_chain(vars(value).items()))
    return (value,)


def _unchanged(value: object, fingerprint: tuple[object, ...]) -> bool:
    current = _fingerprint(value)
    return len(current) == len(fingerprint) and all(map(_is, current, fingerprint))


def _ipython_shell() -> Any:
    """The running IPython shell, or None (IPython is never imported from here)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _same_hook(hook: object, reference: object) -> bool:
    """Whether ``hook`` is ``reference``, counting bound methods of one function and instance.

    IPython sets ``sys.excepthook = shell.excepthook`` around every cell, and each attribute
    access creates a new bound method object: an ``is`` test alone would flag every notebook.
    """
    if hook is reference:
        return True
    both_methods = isinstance(hook, types.MethodType) and isinstance(reference, types.MethodType)
    return (
        both_methods and hook.__func__ is reference.__func__ and hook.__self__ is reference.__self__
    )


def tampering_report() -> list[str]:
    """List what has been patched since this module was imported; empty when nothing was.

    Watched: ``numpy.allclose``, ``isclose``, ``array_equal``, ``asarray``, ``array``,
    ``abs``, ``all``, ``any``, ``isfinite``, ``exp``, ``log``, ``tanh``, ``maximum``,
    ``numpy.testing.assert_allclose`` and ``assert_array_equal``; ``builtins.__import__``,
    ``isinstance``, ``abs``, ``all``, ``any``, ``len`` and ``AssertionError``;
    ``sys.excepthook``; IPython's custom exception handler; and every name in this module
    and every name in the ``dl_helpers.checks`` modules (rebinding, or swapping a function's
    ``__code__`` or defaults).

    Example:
        >>> tampering_report()
        []
    """
    report = [
        f"{label} was replaced at run time"
        for label, owner, attr, original in _WATCHED
        if getattr(owner, attr, _MISSING) is not original
    ]
    if not _same_hook(sys.excepthook, _EXCEPTHOOK):
        report.append("sys.excepthook was replaced at run time (it can hide failing tests)")
    if tuple(getattr(_ipython_shell(), "custom_exceptions", ())):
        report.append(
            "an IPython custom exception handler is installed (set_custom_exc): "
            "it can hide failing tests"
        )
    for module, snapshot in _PROTECTED:
        name = module.__name__
        if sys.modules.get(name) is not module:
            report.append(f"sys.modules[{name!r}] was replaced at run time")
        if type(module) is not _ReadOnlyModule:
            report.append(f"{name} lost its read-only module type")
        namespace = vars(module)
        report += [
            f"{name}.{attr} was replaced or modified at run time"
            for attr, fingerprint in snapshot.items()
            if not _unchanged(namespace.get(attr, _MISSING), fingerprint)
        ]
    return report


def assert_untampered() -> None:
    """Raise ``AssertionError("Tests cannot be trusted: ...")`` if anything was patched.

    Called first by every public check in this module; see :func:`tampering_report`.
    """
    report = tampering_report()
    if report:
        raise AssertionError("Tests cannot be trusted: " + "; ".join(report))


class _ReadOnlyModule(types.ModuleType):
    """Module type whose attributes cannot be assigned or deleted, except dunder names.

    ``__class__`` is refused as well, so ``checks.__class__ = types.ModuleType`` cannot
    undo this; ``protect`` installs the class with ``object.__setattr__``.
    """

    def __setattr__(self, attr: str, value: object) -> None:
        if attr == "__class__" or not (attr.startswith("__") and attr.endswith("__")):
            raise AttributeError(f"{self.__name__} is read-only: tests must not be patched")
        super().__setattr__(attr, value)

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"{self.__name__} is read-only: tests must not be patched")


def protect(*modules: types.ModuleType) -> None:
    """Snapshot the namespace of each of ``modules`` (watched from now on by
    ``tampering_report``) and make it read-only. Called once, by ``dl_helpers.checks``
    after it has imported all of its modules; ``RuntimeError`` on a second call."""
    if _PROTECTED:
        raise RuntimeError("dl_helpers.checks is already protected")
    for module in modules:
        snapshot = {
            name: _fingerprint(value)
            for name, value in list(vars(module).items())
            if not (name.startswith("__") and name.endswith("__"))
        }
        # A read-only view: the dict behind it is referenced from nowhere else.
        _PROTECTED.append((module, types.MappingProxyType(snapshot)))
    for module in modules:
        object.__setattr__(module, "__class__", _ReadOnlyModule)
