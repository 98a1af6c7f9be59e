"""
RemoteIterableDataset's parts that need no host: tensors, shards and epochs
(skipped without torch). tests/python_reader_test.ts reads real hosts with it.
"""

import unittest

import numpy as np

try:
    import torch
except ImportError:
    torch = None


@unittest.skipIf(torch is None, "torch is not installed")
class TorchDataset(unittest.TestCase):
    def setUp(self):
        from pydataset_reader import RemoteIterableDataset
        from pydataset_reader.torch_dataset import to_tensors

        self.dataset = RemoteIterableDataset
        self.to_tensors = to_tensors

    def test_arrays_become_tensors_that_share_memory_in_the_same_structure(self):
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        batch = self.to_tensors({"x": x, "pair": [np.array([1], np.int64), "label"], "n": 3})
        self.assertIsInstance(batch["x"], torch.Tensor)
        self.assertEqual(tuple(batch["x"].shape), (2, 3))
        x[0, 0] = 9
        self.assertEqual(batch["x"][0, 0].item(), 9, "no copy")
        self.assertEqual(batch["pair"][1], "label")
        self.assertEqual(batch["n"], 3)

    def test_unsigned_arrays_torch_lacks_are_widened_or_refused(self):
        batch = self.to_tensors([np.array([65535], np.uint16), np.array([2**32 - 1], np.uint32)])
        self.assertEqual([t.tolist() for t in batch], [[65535], [2**32 - 1]])
        try:
            torch.from_numpy(np.zeros(1, np.uint64))
        except TypeError:
            with self.assertRaisesRegex(TypeError, r"Cannot make batch\.ids a torch tensor as its dtype is uint64"):
                self.to_tensors({"ids": np.zeros(1, np.uint64)})

    def test_ranks_and_workers_split_the_positions(self):
        dataset = self.dataset(["http://127.0.0.1:1"], seed=1, rank=1, world_size=3)
        self.assertEqual(dataset.shard(), (1, 3), "outside a DataLoader worker: the rank's share")
        self.assertEqual(self.dataset(["http://127.0.0.1:1"], seed=1).shard(), (0, 1))
        with self.assertRaisesRegex(ValueError, "current values are rank=3, world_size=3"):
            self.dataset(["http://127.0.0.1:1"], seed=1, rank=3, world_size=3).shard()

    def test_set_epoch_sets_the_next_epoch(self):
        dataset = self.dataset(["http://127.0.0.1:1"], seed=1)
        dataset.set_epoch(5)
        self.assertEqual(dataset.epoch, 5)


if __name__ == "__main__":
    unittest.main()
