"""Code the grader sends into a submission's kernel, kept as real (linted, tested) modules.

Each module defines one function whose source ``call_cell`` sends as a cell, followed by one
call with literal arguments and a ``del`` of the function, so the student's namespace is left
as it was. Their annotations are evaluated in the kernel (no ``from __future__`` there), so
they name builtins only. Nothing here is imported inside the kernel: the sandbox does not even
contain ``dl_course``.

- ``tamper_probe`` -- the integrity probe run before the student's code and after every test
  cell of the grading kernel (``integrity``);
- ``values_probe`` -- prints a test cell's ``graded_values`` in the verification kernel
  (``verify``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable


class Name(str):
    """An argument written as a bare name (a variable of the kernel) instead of a literal."""

    def __repr__(self) -> str:
        return str(self)


def call_cell(function: Callable, *args: object) -> str:
    """The code of a cell that defines ``function`` (its own source), calls it with ``args``
    (each written with ``repr``: literals, or a ``Name``) and deletes it again."""
    name = function.__name__
    call = f"{name}({', '.join(repr(a) for a in args)})"
    return f"{inspect.getsource(function).strip()}\n\n\n{call}\ndel {name}\n"
