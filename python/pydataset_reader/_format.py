"""The stream format's own parts, as src/wire/_format.ts and _dtypes.ts define them."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Tuple

import numpy as np

#: The media type of a stream of safetensors documents, one per batch.
MEDIA_TYPE = "application/vnd.pydataset.safetensors-stream"

#: The ``__metadata__`` key that holds a batch's structure.
STRUCTURE_KEY = "pydataset.structure"

#: The ``__metadata__`` key of a document that carries the writer's error.
ERROR_KEY = "pydataset.error"

#: How deep a batch may nest, in its structure and in its names.
MAX_DEPTH = 256

#: The longest header read by default, in bytes (``maxHeaderBytes`` in TypeScript).
MAX_HEADER_BYTES = 100_000_000

#: The dtypes the wire reads, widest first (the order "known" lists them in):
#: safetensors name -> numpy dtype, always little-endian as the format is.
#: BOOL is read as numpy booleans (TypeScript, which lacks them, reads bytes);
#: pydataset never writes it.
DTYPES: Dict[str, np.dtype] = {
    name: np.dtype(code)
    for name, code in [
        ("F64", "<f8"),
        ("I64", "<i8"),
        ("U64", "<u8"),
        ("F32", "<f4"),
        ("I32", "<i4"),
        ("U32", "<u4"),
        ("F16", "<f2"),
        ("I16", "<i2"),
        ("U16", "<u2"),
        ("I8", "i1"),
        ("U8", "u1"),
        ("BOOL", "?"),
    ]
}

_MAX_SAFE_INTEGER = 2**53 - 1
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def excerpt(name: str) -> str:
    """A name quoted for an error message, cut short: a name can be as long as a header."""
    return js_json(name[:40] + "…" if len(name) > 40 else name)


def js_json(value: Any) -> str:
    """JSON as JavaScript's ``JSON.stringify`` writes it: compact, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str) -> Any:
    """JSON as JavaScript's ``JSON.parse`` reads it: NaN and Infinity are not JSON."""
    return json.loads(text, parse_constant=_reject_constant)


def is_safe_integer(value: Any) -> bool:
    """Whether ``value`` is what JavaScript's ``Number.isSafeInteger`` accepts."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER
    return isinstance(value, int) and abs(value) <= _MAX_SAFE_INTEGER


def js_order(pairs: Iterable[Tuple[str, Any]]) -> List[Tuple[str, Any]]:
    """
    Key-value pairs in the order a JavaScript object keeps its keys: array
    indices ascending first, then the other keys as they came. The TypeScript
    decoder's records list their keys so, and so do these.
    """
    indices: List[Tuple[int, str, Any]] = []
    others: List[Tuple[str, Any]] = []
    for key, value in pairs:
        if _ARRAY_INDEX.fullmatch(key) and int(key) < 2**32 - 1:
            indices.append((int(key), key, value))
        else:
            others.append((key, value))
    indices.sort(key=lambda item: item[0])
    return [(key, value) for _, key, value in indices] + others
