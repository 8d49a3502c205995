"""The values probe: a test cell's ``graded_values`` on secret inputs, as one line (``verify``)."""

from __future__ import annotations


def __dlgrader_emit(values_of, entropy: list[int], nonce: str, mark: str, max_depth: int) -> None:
    """Print ``mark nonce payload``: ``{"values": ...}`` with what ``values_of`` (the test
    cell's ``graded_values``) returns on ``numpy.random.default_rng(entropy)`` (arrays as
    ``.npy`` bytes in base64, numbers as text, containers element by element, anything else
    by its type name only), or ``{"error": "..."}`` when it raises."""
    import base64
    import io
    import json

    import numpy

    def encode(value: object, depth: int = 0) -> object:
        if depth > max_depth:
            raise ValueError("values nested too deeply")
        if isinstance(value, numpy.ndarray | numpy.generic):
            buffer = io.BytesIO()
            numpy.save(buffer, numpy.asarray(value), allow_pickle=False)
            kind = "ndarray" if isinstance(value, numpy.ndarray) else "scalar"
            return {kind: base64.b64encode(buffer.getvalue()).decode("ascii")}
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return {"int": str(value)}
        if isinstance(value, float):
            return {"float": repr(float(value))}
        if isinstance(value, list | tuple):
            kind = "list" if isinstance(value, list) else "tuple"
            return {kind: [encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            pairs = [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]
            return {"dict": pairs}
        return {"other": type(value).__name__}

    try:
        payload = {"values": encode(values_of(numpy.random.default_rng(entropy)))}
    except Exception as error:
        payload = {"error": f"{type(error).__name__}: {error}"[:400]}
    print("\n" + mark + " " + nonce + " " + json.dumps(payload))
