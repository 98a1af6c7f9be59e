"""
Batches as plain JSON, so that the Deno tests compare what this package reads
with what the TypeScript decoder reads (tests/python_reader_test.ts builds the
same form): a tensor is ["t", kind and item size, shape, little-endian hex],
a list ["a", items], a dict ["o", [[key, value], ...]] (key order kept), an
integer ["int", digits], a float ["f", value], NaN and infinities ["n", text],
and other plain values ["v", value].
"""

import json
import math
import sys
from typing import Any, Dict

import numpy as np

from pydataset_reader import RemoteError


def canonical(value):
    if isinstance(value, np.ndarray):
        little = value.astype(value.dtype.newbyteorder("<"))
        kind = f"{value.dtype.kind}{value.dtype.itemsize}"
        return ["t", kind, list(value.shape), little.tobytes().hex()]
    if hasattr(value, "numpy"):  # a torch tensor
        return canonical(value.numpy())
    if isinstance(value, (list, tuple)):
        return ["a", [canonical(item) for item in value]]
    if isinstance(value, dict):
        return ["o", [[key, canonical(item)] for key, item in value.items()]]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return ["v", value]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        if math.isnan(value):
            return ["n", "NaN"]
        if math.isinf(value):
            return ["n", "Infinity" if value > 0 else "-Infinity"]
        return ["f", value]
    raise TypeError(f"no canonical form for {type(value).__name__}")


def describe_error(error):
    """An error as JSON: its class, message, and what it says about the batch."""
    described: Dict[str, Any] = {"class": type(error).__name__, "message": str(error)}
    if isinstance(error, RemoteError):
        described.update(name=error.name, index=error.index, status=error.status)
        for key in ("position", "attempts"):
            if hasattr(error, key):
                described[key] = getattr(error, key)
        if error.__cause__ is not None:
            described["cause"] = str(error.__cause__)
    return described


def emit(**line):
    """One JSON line on stdout."""
    print(json.dumps(line), flush=True)


def emit_batches(batches):
    """Each batch as a JSON line {"batch": ...}, then {"error": ...} if reading raised."""
    try:
        for batch in batches:
            emit(batch=canonical(batch))
    except Exception as error:  # the tests look at whatever was raised
        emit(error=describe_error(error))
    sys.stdout.flush()
