"""
The reader on documents written by hand: every dtype, byte order and
alignment, structures and names, the writer's errors, and malformed input.
Run with ``PYTHONPATH=python python3 -m unittest discover -s python/tests``.
"""

import doctest
import io
import json
import subprocess
import sys
import unittest

import numpy as np

import pydataset_reader
import pydataset_reader.reader
from pydataset_reader import RemoteBatchError, RemoteError, read_batches
from pydataset_reader.reader import native


def document(header, data=b"", header_text=None):
    """A document: the length, the JSON header and the data."""
    text = (header_text if header_text is not None else json.dumps(header)).encode()
    return len(text).to_bytes(8, "little") + text + bytes(data)


def tensors(*entries):
    """A document of tensors (name, dtype, shape, little-endian bytes), laid out in order."""
    header, data = {}, b""
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return document(header, data)


def error_document(report):
    return document({"__metadata__": {"pydataset.error": json.dumps(report)}})


def memory(array):
    """What holds an array's data: the buffer it views, or the array that owns its copy."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    base = array if array.base is None else array.base
    return base.obj if isinstance(base, memoryview) else base


class Chunked(io.RawIOBase):
    """A stream that hands out at most `size` bytes per call, as a socket may."""

    def __init__(self, data, size=1):
        self._data = io.BytesIO(data)
        self._size = size

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(min(self._size, len(buffer)))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class ReadOnly:
    """A file-like object with `read` only."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def read(self, n):
        return self._data.read(min(n, 3))


class Dtypes(unittest.TestCase):
    def test_every_dtype_reads_its_values(self):
        cases = [
            ("F64", "<f8", [np.pi, -0.0]),
            ("I64", "<i8", [-(2**63), 2**63 - 1]),
            ("U64", "<u8", [2**64 - 1, 0]),
            ("F32", "<f4", [1.5, -3.0]),
            ("I32", "<i4", [-(2**31), 2**31 - 1]),
            ("U32", "<u4", [2**32 - 1, 7]),
            ("F16", "<f2", [0.5, -2.0]),
            ("I16", "<i2", [-32768, 5]),
            ("U16", "<u2", [65535, 1]),
            ("I8", "i1", [-128, 127]),
            ("U8", "u1", [0, 255]),
            ("BOOL", "?", [True, False]),
        ]
        raw = tensors(*[(name, name, [2], np.array(values, code).tobytes()) for name, code, values in cases])
        [batch] = read_batches(raw)
        self.assertEqual(list(batch), [name for name, _, _ in cases])
        for name, code, values in cases:
            array = batch[name]
            self.assertEqual(array.dtype, np.dtype(code).newbyteorder("="), name)
            self.assertTrue(array.dtype.isnative, name)
            self.assertTrue(array.flags.writeable, name)
            self.assertEqual(array.tolist(), values, name)

    def test_an_unknown_dtype_bf16_included_is_refused(self):
        for dtype in ["BF16", "Q7", None]:
            raw = document({"x": {"dtype": dtype, "shape": [1], "data_offsets": [0, 2]}}, b"\0\0")
            with self.assertRaisesRegex(
                ValueError, r"x has an unknown dtype: current value is .* \(known: F64, I64, U64, F32"
            ):
                list(read_batches(raw))

    def test_misaligned_data_is_copied_and_aligned_data_shared(self):
        raw = tensors(("a", "U8", [1], b"\x07"), ("b", "F32", [2], np.array([1, 2], "<f4").tobytes()))
        [batch] = read_batches(raw)
        self.assertEqual(batch["b"].tolist(), [1.0, 2.0])
        self.assertTrue(batch["b"].flags.aligned)
        self.assertIsInstance(memory(batch["b"]), np.ndarray, "a misaligned tensor is a copy")
        self.assertIsInstance(memory(batch["a"]), bytearray)
        raw = tensors(("b", "F32", [2], np.array([1, 2], "<f4").tobytes()), ("a", "U8", [1], b"\x07"))
        [batch] = read_batches(raw)
        self.assertIsInstance(memory(batch["b"]), bytearray)
        self.assertIs(memory(batch["b"]), memory(batch["a"]), "aligned tensors are views of one buffer")

    def test_big_endian_arrays_are_made_native(self):
        big = np.array([1.5, -2.0], ">f4")
        self.assertEqual(native(big).tolist(), [1.5, -2.0])
        self.assertTrue(native(big).dtype.isnative)
        little = np.array([3], "<i4")
        self.assertIs(native(little), little, "native data is not copied")

    def test_shapes_scalars_and_empty_tensors(self):
        raw = tensors(("s", "F64", [], np.array(42.0, "<f8").tobytes()), ("e", "F32", [0, 3], b""))
        [batch] = read_batches(raw)
        self.assertEqual(batch["s"].shape, ())
        self.assertEqual(batch["s"].item(), 42.0)
        self.assertEqual(batch["e"].shape, (0, 3))


class Sources(unittest.TestCase):
    def test_bytes_files_and_streams_of_any_chunking(self):
        raw = tensors(("0", "I32", [2], np.array([1, 2], "<i4").tobytes())) * 3
        for source in [raw, bytearray(raw), memoryview(raw), io.BytesIO(raw), Chunked(raw), ReadOnly(raw)]:
            batches = list(read_batches(source))
            self.assertEqual([b[0].tolist() for b in batches], [[1, 2]] * 3, type(source).__name__)

    def test_an_empty_stream_has_no_batches(self):
        self.assertEqual(list(read_batches(b"")), [])

    def test_max_header_bytes_must_be_positive(self):
        with self.assertRaisesRegex(ValueError, "max_header_bytes must be a positive integer: current value is 0"):
            read_batches(b"", max_header_bytes=0)


class Structure(unittest.TestCase):
    def structured(self, structure, *entries, metadata=None):
        raw = tensors(*entries)
        length = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + length])
        header["__metadata__"] = {"pydataset.structure": json.dumps(structure), **(metadata or {})}
        return document(header, raw[8 + length :])

    def test_every_kind_of_node(self):
        raw = self.structured(
            ["a", [
                ["t", "x", {"flat": True}],
                ["o", {"b": ["v", "text"], "1": ["v", 0.5], "0": ["v", None], "a": ["v", True]}],
                ["n", "NaN"], ["n", "-Infinity"], ["b", "-12345678901234567890"], ["u"],
                ["t", "y", {"clamped": True}],
            ]],
            ("x", "F32", [1], np.array([2], "<f4").tobytes()),
            ("y", "U8", [2], b"\x01\x02"),
        )
        [batch] = read_batches(raw)
        self.assertEqual(batch[0].tolist(), [2.0])
        self.assertEqual(list(batch[1].items()), [("0", None), ("1", 0.5), ("b", "text"), ("a", True)])
        self.assertTrue(np.isnan(batch[2]))
        self.assertEqual(batch[3:6], [float("-inf"), -12345678901234567890, None])
        self.assertEqual(batch[6].tolist(), [1, 2])

    def test_a_malformed_structure_is_refused(self):
        x = ("x", "U8", [1], b"\x01")
        cases = [
            (["a", []], [x], "leaves out tensors x"),
            (["a", [["t", "x"], ["t", "x"]]], [x], "names tensor x twice"),
            (["t", "z"], [], 'names a tensor the header lacks: "z"'),
            (["b", "1.5"], [], 'has a bigint node that holds "1.5"'),
            (["b", "12\n"], [], "has a bigint node that holds"),
            (["n", "nan"], [], 'has a number node that holds "nan"'),
            (["v", [1]], [], r"has a value node that holds \[1\]"),
            (["q"], [], 'has a node of unknown kind "q"'),
            ({"a": 1}, [], "has a node that is not a list"),
            (["a", 3], [], "has an array node without items"),
            (["o", []], [], "has a record node without entries"),
            (json.loads('["a",[' * 300 + '["u"]' + "]]" * 300), [], "nests deeper than 256 levels"),
        ]
        for structure, entries, message in cases:
            with self.subTest(structure=str(structure)[:40]):
                with self.assertRaisesRegex(ValueError, "Cannot decode batch 0 as its pydataset.structure " + message):
                    list(read_batches(self.structured(structure, *entries)))
        bad_json = document({"__metadata__": {"pydataset.structure": "[nope"}})
        with self.assertRaisesRegex(ValueError, "its pydataset.structure is not JSON"):
            list(read_batches(bad_json))

    def test_documents_from_other_writers_are_rebuilt_from_their_names(self):
        raw = document(
            {
                "__metadata__": {"1.label": '"cat"', "1.note": "plain text", "toString": "kept", "n": "NaN"},
                "0": {"dtype": "F32", "shape": [1, 1], "data_offsets": [0, 4]},
                "1.ids": {"dtype": "I64", "shape": [2, 1], "data_offsets": [8, 24]},
                "__proto__": {"dtype": "U8", "shape": [1], "data_offsets": [4, 5]},
                "pad": {"dtype": "U8", "shape": [3], "data_offsets": [5, 8]},
            },
            bytes(24),
        )
        [batch] = read_batches(raw)
        self.assertEqual(list(batch), ["0", "1", "__proto__", "pad", "toString", "n"])
        self.assertEqual(batch["1"]["ids"].shape, (2, 1))
        self.assertEqual((batch["1"]["label"], batch["1"]["note"]), ("cat", "plain text"))
        self.assertEqual(batch["n"], "NaN", "NaN is not JSON: it stays text, as in JavaScript")
        pair = document(
            {"1": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}, "0": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}},
            b"\x05\x06",
        )
        [batch] = read_batches(pair)
        self.assertEqual([t.tolist() for t in batch], [[5], [6]], '"0" and "1" make a list, in order')

    def test_names_that_collide_or_nest_too_deep_are_refused(self):
        collide = tensors(("a", "U8", [1], b"\x01"), ("a.b", "U8", [1], b"\x02"))
        with self.assertRaisesRegex(ValueError, 'the names "a.b" and "a" collide'):
            list(read_batches(collide))
        deep = ".".join(["a"] * 100_000)
        with self.assertRaisesRegex(
            ValueError,
            r'^Cannot decode batch 0 as the __metadata__ key "a\.a[.a]*…" nests 100000 levels deep, deeper than the limit of 256 \(it starts at byte 0 of the stream\)$',
        ):
            list(read_batches(document({"__metadata__": {deep: "1"}})))
        [batch] = read_batches(document({"__metadata__": {".".join(["a"] * 256): "1"}}))
        for _ in range(256):
            batch = batch["a"]
        self.assertEqual(batch, 1)


class WriterErrors(unittest.TestCase):
    def test_an_error_naming_its_batch_raises_after_the_batches_before_it(self):
        good = tensors(("0", "U8", [1], b"\x01"))
        report = {
            "name": "BatchError",
            "message": "Cannot get batch 2 of Remote: disk on fire",
            "index": 2,
            "cause": {"name": "Error", "message": "disk on fire"},
        }
        seen = []
        with self.assertRaises(RemoteBatchError) as caught:
            for batch in read_batches(good + good + error_document(report)):
                seen.append(batch)
        self.assertEqual(len(seen), 2)
        error = caught.exception
        self.assertEqual(str(error), "Cannot get batch 2 of Remote: disk on fire")
        self.assertEqual((error.index, error.name, error.status), (2, "BatchError", None))
        self.assertIsInstance(error.__cause__, RemoteError)
        self.assertEqual(str(error.__cause__), "disk on fire")
        self.assertIsInstance(error, RuntimeError)

    def test_an_error_without_a_batch_says_where_the_writer_failed(self):
        good = tensors(("0", "U8", [1], b"\x01"))
        with self.assertRaises(RemoteError) as caught:
            list(read_batches(good + error_document({"name": "TypeError", "message": "bad batch"})))
        self.assertNotIsInstance(caught.exception, RemoteBatchError)
        self.assertEqual(str(caught.exception), "The writer failed at batch 1: bad batch")
        self.assertEqual(caught.exception.name, "TypeError")
        raw = document({"__metadata__": {"pydataset.error": "not json"}})
        with self.assertRaisesRegex(RemoteError, "^The writer failed at batch 0: not json$"):
            list(read_batches(raw))


class Malformed(unittest.TestCase):
    def test_malformed_input_raises_value_error_saying_what_and_where(self):
        good = tensors(("0", "F32", [2], bytes(8))) + tensors(("0", "F32", [1], bytes(4)))
        second = len(tensors(("0", "F32", [2], bytes(8))))
        cases = [
            ("truncated in the data", good[:-2], {},
             rf"^Cannot decode batch 1 as the stream ended within it: 2 bytes left where 4 bytes of data were due \(it starts at byte {second} of the stream\)$"),
            ("truncated in the length", good[:4], {},
             r"batch 0 as the stream ended within it: 4 bytes left where a header was due \(it starts at byte 0"),
            ("truncated in the header", good[:12], {}, "12 bytes left where a header was due"),
            ("a header over the limit", good, {"max_header_bytes": 16}, r"its header is \d+ bytes long, over the limit of 16"),
            ("a huge header length", b"\xff" * 8, {}, "header is 18446744073709551615 bytes long, over the limit of 100000000"),
            ("bad JSON", document(None, header_text="{not json"), {}, "batch 0 as its header is not JSON"),
            ("NaN, which JSON lacks", document(None, header_text='{"__metadata__": {}, "x": NaN}'), {}, "header is not JSON"),
            ("not UTF-8", document(None, header_text="{}")[:8] + b"\xff\xff", {}, "header is not JSON"),
            ("not an object", document([1, 2]), {}, "its header is not a JSON object"),
            ("offsets past the data",
             document({"x": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}}, bytes(4)), {},
             "offsets of x start at 2, where the data so far ends at 0"),
            ("offsets that overlap",
             document({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                       "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, bytes(3)), {},
             "offsets of b start at 1, where the data so far ends at 2"),
            ("offsets that disagree with the shape",
             document({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)), {},
             r"data_offsets of x span 4 bytes, but F32 of shape \[2\] needs 8"),
            ("offsets backwards", document({"x": {"dtype": "U8", "shape": [0], "data_offsets": [3, 1]}}), {},
             r"data_offsets of x are not \[begin, end\]: current value is \[3,1\]"),
            ("a bad shape", document({"x": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}), {},
             r"shape of x is not a list of sizes: current value is \[-1\]"),
            ("a boolean shape", document({"x": {"dtype": "U8", "shape": [True], "data_offsets": [0, 1]}}, b"\0"), {},
             r"shape of x is not a list of sizes: current value is \[true\]"),
            ("metadata that is not strings", document({"__metadata__": {"a": 1}}), {}, "its __metadata__ is not a map of strings"),
            ("metadata that is a list", document({"__metadata__": ["x"]}), {}, "its __metadata__ is not a map of strings"),
            ("a claim of a terabyte", document({"x": {"dtype": "U8", "shape": [10**12], "data_offsets": [0, 10**12]}}), {},
             "0 bytes left where 1000000000000 bytes of data were due"),
        ]
        for name, raw, options, message in cases:
            with self.subTest(name):
                with self.assertRaisesRegex(ValueError, message):
                    list(read_batches(raw, **options))


class Package(unittest.TestCase):
    def test_the_examples_in_docstrings_run(self):
        self.assertEqual(doctest.testmod(pydataset_reader.reader).failed, 0)

    def test_it_imports_without_torch(self):
        script = (
            "import sys; sys.modules['torch'] = None\n"
            "import pydataset_reader as p\n"
            "print(sorted(set(p.__all__) - {'RemoteIterableDataset'}) == sorted(n for n in p.__all__ if n != 'RemoteIterableDataset' and hasattr(p, n)))\n"
            "try:\n    p.RemoteIterableDataset\nexcept ImportError:\n    print('ImportError')\n"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        self.assertEqual(out.stdout.split(), ["True", "ImportError"])


if __name__ == "__main__":
    unittest.main()
