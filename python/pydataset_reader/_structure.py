"""
Batches rebuilt from a document's tensors and ``__metadata__``, as
src/wire/_structure.ts rebuilds them: from the structure the encoder recorded,
from the names of a document written elsewhere, or the writer's error from a
document that ends the stream.
"""

from __future__ import annotations

import re
from typing import Any, Dict, NoReturn, Set

import numpy as np

from ._format import ERROR_KEY, MAX_DEPTH, STRUCTURE_KEY, excerpt, is_safe_integer, js_json
from ._format import js_order, parse_json
from .errors import RemoteBatchError, RemoteError

#: A batch: numpy arrays, lists and dicts of batches, and plain values
#: (``None``, ``bool``, ``int``, ``float``, ``str``).
Batch = Any

_BIGINT = re.compile(r"-?[0-9]+")
_NUMBERS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def rebuild_batch(tensors: Dict[str, np.ndarray], metadata: Dict[str, str], document: int) -> Batch:
    """
    The batch of a document: rebuilt from its structure when it records one,
    else from its names.

    Raises the writer's error when the document carries one
    (:class:`RemoteBatchError` when it names its batch, else
    :class:`RemoteError`), and ``ValueError`` when the structure is not JSON,
    is malformed or leaves out tensors, or names collide or nest too deep.
    """
    where = f"batch {document}"
    failure = metadata.get(ERROR_KEY)
    if failure is not None:
        raise_remote_error(failure, where)
    structure = metadata.get(STRUCTURE_KEY)
    if structure is None:
        return _from_names(tensors, metadata, where)
    try:
        node = parse_json(structure)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"Cannot decode {where} as its {STRUCTURE_KEY} is not JSON: {error}") from None
    used: Set[str] = set()
    batch = _rebuild(node, tensors, used, where, 0)
    unused = [name for name in tensors if name not in used]
    if unused:
        raise ValueError(
            f"Cannot decode {where} as its {STRUCTURE_KEY} leaves out tensors {', '.join(unused)}"
        )
    return batch


def raise_remote_error(text: str, where: str) -> NoReturn:
    """
    Raises the error a writer sent in place of a batch: a
    :class:`RemoteBatchError` whose message is the writer's when it names its
    batch, else a :class:`RemoteError` that says where the writer failed. The
    writer's cause, when it sent one, is the ``__cause__``.
    """
    try:
        report = parse_json(text)
    except (ValueError, RecursionError):
        report = {"message": text}
    if not isinstance(report, dict):
        report = {}
    message = report["message"] if isinstance(report.get("message"), str) else text
    name = report["name"] if isinstance(report.get("name"), str) else "Error"
    cause_report = report.get("cause")
    cause = None
    if isinstance(cause_report, dict) and isinstance(cause_report.get("message"), str):
        cause_name = cause_report.get("name")
        cause = RemoteError(cause_report["message"], name="Error" if cause_name is None else str(cause_name))
    index = report.get("index")
    error: RemoteError
    if isinstance(index, (int, float)) and is_safe_integer(index):
        error = RemoteBatchError(message, name=name, index=int(index))
    else:
        error = RemoteError(f"The writer failed at {where}: {message}", name=name)
    raise error from cause


def _bad(where: str, why: str) -> NoReturn:
    raise ValueError(f"Cannot decode {where} as its {STRUCTURE_KEY} {why}")


def _rebuild(node: Any, tensors: Dict[str, np.ndarray], used: Set[str], where: str, depth: int) -> Batch:
    """Rebuilds a batch from the structure the encoder recorded."""
    if depth > MAX_DEPTH:
        _bad(where, f"nests deeper than {MAX_DEPTH} levels")
    if not isinstance(node, list):
        _bad(where, f"has a node that is not a list: {js_json(node)}")
    kind = node[0] if len(node) > 0 else None
    value = node[1] if len(node) > 1 else None
    if kind == "t":
        if not isinstance(value, str) or value not in tensors:
            _bad(where, f"names a tensor the header lacks: {js_json(value)}")
        if value in used:
            _bad(where, f"names tensor {value} twice")
        used.add(value)
        # A plain typed array (`flat`) and a Uint8ClampedArray (`clamped`) are
        # both just arrays here: numpy has one kind of array, and no clamped bytes.
        return tensors[value]
    if kind == "a":
        if not isinstance(value, list):
            _bad(where, "has an array node without items")
        return [_rebuild(child, tensors, used, where, depth + 1) for child in value]
    if kind == "o":
        if not isinstance(value, dict):
            _bad(where, "has a record node without entries")
        return {
            key: _rebuild(child, tensors, used, where, depth + 1)
            for key, child in js_order(value.items())
        }
    return _plain(kind, value, node, where)


def _plain(kind: Any, value: Any, node: list, where: str) -> Batch:
    """A value node: JSON, a number JSON lacks, a bigint, or undefined (``None``)."""
    if kind == "v":
        if isinstance(value, (list, dict)) or (value is None and len(node) < 2):
            _bad(where, f"has a value node that holds {js_json(value)}")
        return value
    if kind == "n":
        if not isinstance(value, str) or value not in _NUMBERS:
            _bad(where, f"has a number node that holds {js_json(value)}")
        return _NUMBERS[value]
    if kind == "b":
        if not isinstance(value, str) or not _BIGINT.fullmatch(value):
            _bad(where, f"has a bigint node that holds {js_json(value)}")
        return int(value)
    if kind == "u":
        return None
    _bad(where, f"has a node of unknown kind {js_json(kind)}")


class _Branch(dict):
    """A place in the tree of names that holds other places, not a leaf."""


def _from_names(tensors: Dict[str, np.ndarray], metadata: Dict[str, str], where: str) -> Batch:
    """
    A document from another writer, rebuilt from its names as the format names
    places: ``"0"``, ``"1"``, ... make a list, other keys a dict, and ``.``
    nests (``"0.image"``). ``__metadata__`` values join at their names, read as
    JSON where they are JSON and as strings otherwise.
    """
    root = _Branch()
    for name, tensor in tensors.items():
        _place(root, name, tensor, "tensor name", where)
    for name, text in js_order(metadata.items()):
        _place(root, name, _parse_value(text), "__metadata__ key", where)
    return _from_tree(root)


def _place(root: _Branch, name: str, leaf: Batch, kind: str, where: str) -> None:
    """Puts ``leaf`` into ``root`` at the place ``name`` names (``kind`` says what ``name`` is)."""
    path = name.split(".")
    if len(path) > MAX_DEPTH:
        raise ValueError(
            f"Cannot decode {where} as the {kind} {excerpt(name)} nests {len(path)} levels deep, "
            f"deeper than the limit of {MAX_DEPTH}"
        )
    tree = root
    for i, key in enumerate(path):
        last = i == len(path) - 1
        exists = key in tree
        if exists and (last or not isinstance(tree[key], _Branch)):
            raise ValueError(
                f"Cannot decode {where} as the names {js_json(name)} and "
                f"{js_json('.'.join(path[: i + 1]))} collide"
            )
        if last:
            tree[key] = leaf
        else:
            tree = tree.setdefault(key, _Branch())


def _from_tree(tree: _Branch) -> Batch:
    keys = list(tree)
    if keys and all(key == str(i) for i, key in enumerate(keys)):
        return [_child(tree[key]) for key in keys]
    return {key: _child(value) for key, value in js_order(tree.items())}


def _child(value: Batch) -> Batch:
    return _from_tree(value) if isinstance(value, _Branch) else value


def _parse_value(text: str) -> Batch:
    try:
        return _ordered(parse_json(text))
    except (ValueError, RecursionError):
        return text


def _ordered(value: Batch) -> Batch:
    """A JSON value whose dicts list their keys as JavaScript's ``JSON.parse`` does."""
    if isinstance(value, dict):
        return {key: _ordered(child) for key, child in js_order(value.items())}
    if isinstance(value, list):
        return [_ordered(child) for child in value]
    return value
