"""
The torch case of tests/python_reader_test.ts: every rank of --world-size,
each through a DataLoader with --num-workers workers, reads one epoch of the
hosts; prints one JSON line per batch: the rank, and the batch's index, seed
and x as lists (and whether each was a torch tensor).

  torch_cases.py --seed S --epoch E [--shuffle] --world-size 2 --num-workers 2 HOST ...
"""

import argparse

import torch
from _canonical import emit
from torch.utils.data import DataLoader

from pydataset_reader import RemoteIterableDataset

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--epoch", type=int, default=0)
parser.add_argument("--shuffle", action="store_true")
parser.add_argument("--world-size", type=int, default=2)
parser.add_argument("--num-workers", type=int, default=2)
parser.add_argument("hosts", nargs="+")
args = parser.parse_args()

for rank in range(args.world_size):
    dataset = RemoteIterableDataset(
        args.hosts, seed=args.seed, shuffle=args.shuffle, rank=rank, world_size=args.world_size, workers=2
    )
    dataset.set_epoch(args.epoch)
    loader = DataLoader(dataset, batch_size=None, num_workers=args.num_workers)
    for batch in loader:
        emit(
            rank=rank,
            tensors=all(isinstance(value, torch.Tensor) for value in batch.values()),
            index=batch["index"].tolist(),
            seed=batch["seed"].tolist(),
            x=batch["x"].tolist(),
        )
