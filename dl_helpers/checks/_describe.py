"""How values are named in the checks' messages (shared by every check)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _type_phrase(value: object) -> str:
    """'None', 'a list', 'a Python float', 'an object of type torch.Tensor', ..."""
    if value is None:
        return "None"
    kind = type(value)
    if kind.__module__ != "builtins":
        return f"an object of type {kind.__module__}.{kind.__qualname__}"
    noun = f"Python {kind.__name__}" if kind in (bool, int, float, complex) else kind.__name__
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _short_repr(value: object) -> str:
    """``repr`` that summarises long arrays and stays under a few lines."""
    with np.printoptions(threshold=20, edgeitems=3, precision=6):
        text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _number(value: Any) -> str:
    """One element as the shortest text that round-trips: 0.7310585786300049, nan, inf."""
    return repr(value.item() if isinstance(value, np.generic | np.ndarray) else value)


def _at_index(flat_index: int, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """(' at index [1, 2]', (1, 2)) for an element of an array of ``shape``; '' for 0-d."""
    index = tuple(int(i) for i in np.unravel_index(flat_index, shape))
    text = f" at index [{', '.join(map(str, index))}]" if shape else ""
    return text, index


def _function_name(func: Callable, name: str | None) -> str:
    return name if name is not None else getattr(func, "__name__", repr(func))
