"""Reading the stream: safetensors documents, back to back, one per batch."""

from __future__ import annotations

import io
from typing import Any, BinaryIO, Dict, Generator, List, NamedTuple, Union

import numpy as np

from ._format import DTYPES, MAX_HEADER_BYTES, is_safe_integer, js_json, js_order, parse_json
from ._structure import Batch, rebuild_batch

#: What :func:`read_batches` reads from: bytes, or a binary file-like object.
Source = Union[bytes, bytearray, memoryview, BinaryIO]

# Data is read in steps of this size, so that a header that claims terabytes
# fails on a short stream with "the stream ended", not with a MemoryError.
_STEP = 1 << 26


def read_batches(
    source: Source, *, max_header_bytes: int = MAX_HEADER_BYTES
) -> Generator[Batch, None, None]:
    """
    The batches of a stream, rebuilt as the TypeScript decoder rebuilds them,
    read one document at a time (a stream is never read ahead of the batch
    being yielded).

    Each batch has the structure its writer recorded: lists, dicts (keys in
    the writer's order), numpy arrays of the tensors' shapes, and plain values
    (``None``, ``bool``, ``int``, ``float``, ``str``; NaN and ±inf as floats,
    bigints as ``int``, ``undefined`` as ``None``). A document from another
    safetensors writer is rebuilt from its names: ``"0"``, ``"1"``, ... make a
    list, other names a dict, ``.`` nests, and ``__metadata__`` values join at
    their names (read as JSON where they are JSON). Arrays are little-endian
    data in native byte order, writable, and share one buffer per document
    where aligned.

    :param source: bytes, or a binary file-like object with ``read`` (and
        ideally ``readinto``), such as ``open(path, "rb")`` or an HTTP response.
    :param max_header_bytes: the longest header accepted, in bytes.
    :returns: a generator of the batches (``close()`` stops reading).
    :raises RemoteBatchError: a document carries the writer's error for a
        batch (its message is the writer's, ``index`` the batch's), after
        every batch before it.
    :raises RemoteError: a document carries another error of the writer.
    :raises ValueError: the stream is truncated, a header is over
        ``max_header_bytes``, not JSON, or names an unknown dtype, offsets or
        shapes disagree, or the structure is malformed; the message says which
        batch, and at which byte of the stream it starts.

    A document written by hand, read back:

    >>> import json
    >>> header = json.dumps({"x": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}).encode()
    >>> document = len(header).to_bytes(8, "little") + header + bytes([7, 9])
    >>> [batch] = read_batches(document)
    >>> batch["x"].tolist()
    [7, 9]
    """
    if not (isinstance(max_header_bytes, int) and max_header_bytes > 0):
        raise ValueError(
            f"Cannot read batches as max_header_bytes must be a positive integer: "
            f"current value is {max_header_bytes!r}"
        )
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    return _documents(_Input(stream), max_header_bytes)


def _documents(source: "_Input", max_header_bytes: int) -> Generator[Batch, None, None]:
    document = 0
    while True:
        start = source.offset
        where = f"batch {document}"
        at = f"(it starts at byte {start} of the stream)"
        length_bytes = source.read(8)
        if not length_bytes:
            return
        announced = int.from_bytes(length_bytes, "little")
        if len(length_bytes) == 8 and announced > max_header_bytes:
            raise ValueError(
                f"Cannot decode {where} as its header is {announced} bytes long, "
                f"over the limit of {max_header_bytes} {at}"
            )
        header_bytes = source.read(announced) if len(length_bytes) == 8 else bytearray()
        if len(length_bytes) < 8 or len(header_bytes) < announced:
            raise ValueError(
                f"Cannot decode {where} as the stream ended within it: "
                f"{len(length_bytes) + len(header_bytes)} bytes left where a header was due {at}"
            )
        try:
            header = _parse_header(header_bytes, where)
        except ValueError as error:
            raise ValueError(f"{error} {at}") from None
        data = source.read(header.data_length)
        if len(data) < header.data_length:
            raise ValueError(
                f"Cannot decode {where} as the stream ended within it: {len(data)} bytes left "
                f"where {header.data_length} bytes of data were due {at}"
            )
        try:
            batch = rebuild_batch(_tensors_of(header, data), header.metadata, document)
        except ValueError as error:
            raise ValueError(f"{error} {at}") from None
        yield batch
        document += 1


class _Input:
    """A binary stream read in exact amounts, counting the bytes read."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.offset = 0

    def read(self, n: int) -> bytearray:
        """``n`` bytes, or fewer only where the stream ends."""
        buffer = bytearray()
        while len(buffer) < n:
            start = len(buffer)
            step = min(n - start, _STEP)
            buffer.extend(bytes(step))
            with memoryview(buffer) as view:
                got = self._fill(view[start:])
            if got < step:
                del buffer[start + got :]
                break
        self.offset += len(buffer)
        return buffer

    def _fill(self, view: memoryview) -> int:
        """Fills ``view`` from the stream, as far as it goes: how many bytes it took."""
        readinto = getattr(self._stream, "readinto", None)
        got = 0
        while got < len(view):
            if readinto is not None:
                count = readinto(view[got:])
            else:
                chunk = self._stream.read(len(view) - got)
                count = len(chunk) if chunk else 0
                view[got : got + count] = chunk if count else b""
            if not count:
                break
            got += count
        return got


class _Entry(NamedTuple):
    name: str
    dtype: np.dtype
    shape: List[int]
    begin: int
    end: int


class _Header(NamedTuple):
    tensors: List[_Entry]
    metadata: Dict[str, str]
    data_length: int


def _parse_header(data: bytearray, where: str) -> _Header:
    """A document's header, read from its bytes and checked, as src/wire/_framing.ts does."""
    try:
        header = parse_json(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise ValueError(f"Cannot decode {where} as its header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ValueError(f"Cannot decode {where} as its header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"Cannot decode {where} as its __metadata__ is not a map of strings")
    tensors = [_entry(name, entry, where) for name, entry in js_order(header.items())]
    # The data section is exactly covered by the tensors: no holes, no overlaps.
    covered = 0
    for tensor in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if tensor.begin != covered:
            raise ValueError(
                f"Cannot decode {where} as the offsets of {tensor.name} start at {tensor.begin}, "
                f"where the data so far ends at {covered} "
                f"(offsets must cover the data without holes or overlaps)"
            )
        covered = tensor.end
    return _Header(tensors, dict(js_order(metadata.items())), covered)


def _entry(name: str, entry: Any, where: str) -> _Entry:
    """One tensor's entry, checked: a known dtype, a shape, and offsets that fit both."""
    fields = entry if isinstance(entry, dict) else {}
    dtype_name = fields.get("dtype")
    dtype = DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    if dtype is None:
        raise ValueError(
            f"Cannot decode {where} as {name} has an unknown dtype: current value is "
            f"{js_json(dtype_name)} (known: {', '.join(DTYPES)})"
        )
    shape = fields.get("shape")
    if not isinstance(shape, list) or not all(is_safe_integer(n) and n >= 0 for n in shape):
        raise ValueError(
            f"Cannot decode {where} as the shape of {name} is not a list of sizes: "
            f"current value is {js_json(shape)}"
        )
    offsets = fields.get("data_offsets")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(is_safe_integer(n) and n >= 0 for n in offsets)
        or offsets[0] > offsets[1]
    ):
        raise ValueError(
            f"Cannot decode {where} as the data_offsets of {name} are not [begin, end]: "
            f"current value is {js_json(offsets)}"
        )
    shape = [int(n) for n in shape]
    begin, end = int(offsets[0]), int(offsets[1])
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if end - begin != size:
        raise ValueError(
            f"Cannot decode {where} as the data_offsets of {name} span {end - begin} bytes, "
            f"but {dtype_name} of shape [{', '.join(map(str, shape))}] needs {size}"
        )
    return _Entry(name, dtype, shape, begin, end)


def _tensors_of(header: _Header, data: bytearray) -> Dict[str, np.ndarray]:
    """
    The tensors of a document: views of ``data`` where aligned for their type,
    else copies; in native byte order (a copy on a big-endian machine).
    """
    tensors: Dict[str, np.ndarray] = {}
    for entry in header.tensors:
        count = (entry.end - entry.begin) // entry.dtype.itemsize
        array = np.frombuffer(data, entry.dtype, count, entry.begin)
        if not array.flags.aligned:
            array = array.copy()
        tensors[entry.name] = native(array).reshape(entry.shape)
    return tensors


def native(array: np.ndarray) -> np.ndarray:
    """``array`` in this machine's byte order: itself where it is, else a converted copy."""
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))
