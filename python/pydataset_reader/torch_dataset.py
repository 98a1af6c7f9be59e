"""A PyTorch ``IterableDataset`` over data hosts' epochs (needs torch)."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.distributed
import torch.utils.data

from ._format import MAX_HEADER_BYTES
from ._structure import Batch
from .epoch import read_epoch


class RemoteIterableDataset(torch.utils.data.IterableDataset):
    """
    One epoch of the hosts' dataset per iteration, as torch tensors, split
    between distributed ranks and ``DataLoader`` workers so that together
    they read every position of the epoch once.

    Rank ``r`` of ``world_size`` ranks reads positions ``r, r + world_size,
    ...`` (as ``DistributedSampler`` splits indices), and worker ``w`` of a
    ``DataLoader``'s ``k`` workers every ``k``-th of those, so a loader
    yields its rank's positions in order. Each batch comes from
    :func:`~pydataset_reader.read_epoch`, its numpy arrays made tensors with
    ``torch.from_numpy`` (no copy). The batches are batched already: give
    the ``DataLoader`` ``batch_size=None``. Ranks may get one batch more than
    others when the length is not a multiple of ``world_size``.

    :param hosts: base URLs of the hosts.
    :param seed: the seed, the same on every rank (see ``read_epoch``).
    :param shuffle: whether each epoch is read in shuffled order.
    :param epoch: the epoch read; :meth:`set_epoch` changes it.
    :param rank: this process's rank; by default ``torch.distributed``'s
        when it is initialised, else 0.
    :param world_size: the number of ranks; by default ``torch.distributed``'s
        when it is initialised, else 1.
    :param workers: requests in flight per ``DataLoader`` worker.
    :param lookahead: batches held ahead per ``DataLoader`` worker.
    :param retries: how many times a failed request is tried again.
    :param timeout: seconds to wait for a host, per request and per read.
    :param max_header_bytes: the longest header accepted, in bytes.

    ``loader = DataLoader(RemoteIterableDataset(hosts, seed=7, shuffle=True), batch_size=None, num_workers=2)``
    """

    def __init__(
        self,
        hosts: Sequence[str],
        *,
        seed: int,
        shuffle: bool = False,
        epoch: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        workers: int = 8,
        lookahead: Optional[int] = None,
        retries: int = 2,
        timeout: Optional[float] = 30.0,
        max_header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        super().__init__()
        self.hosts = list(hosts)
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = epoch
        self.rank = rank
        self.world_size = world_size
        self.workers = workers
        self.lookahead = lookahead
        self.retries = retries
        self.timeout = timeout
        self.max_header_bytes = max_header_bytes

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch the next iteration reads, as ``DistributedSampler.set_epoch`` does."""
        self.epoch = epoch

    def shard(self) -> Tuple[int, int]:
        """
        ``(i, n)``: the positions ``i, i + n, ...`` this rank and this
        ``DataLoader`` worker read, in the process that calls it.
        """
        rank, world_size = self._rank_and_world_size()
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return rank + world_size * worker, world_size * workers

    def __iter__(self) -> Iterator[Batch]:
        batches = read_epoch(
            self.hosts,
            seed=self.seed,
            epoch=self.epoch,
            shuffle=self.shuffle,
            shard=self.shard(),
            workers=self.workers,
            lookahead=self.lookahead,
            retries=self.retries,
            timeout=self.timeout,
            max_header_bytes=self.max_header_bytes,
        )
        try:
            for batch in batches:
                yield to_tensors(batch)
        finally:
            batches.close()

    def _rank_and_world_size(self) -> Tuple[int, int]:
        initialised = torch.distributed.is_available() and torch.distributed.is_initialized()
        rank = self.rank if self.rank is not None else torch.distributed.get_rank() if initialised else 0
        world_size = (
            self.world_size
            if self.world_size is not None
            else torch.distributed.get_world_size() if initialised else 1
        )
        if not (isinstance(world_size, int) and world_size >= 1 and isinstance(rank, int) and 0 <= rank < world_size):
            raise ValueError(
                f"Cannot read an epoch as rank must be in 0 .. world_size - 1: "
                f"current values are rank={rank!r}, world_size={world_size!r}"
            )
        return rank, world_size


# What torch before 2.3 lacks, widened to a signed type that holds every value.
_WIDER = {"uint16": "int32", "uint32": "int64"}


def to_tensors(batch: Batch, place: str = "batch") -> Any:
    """
    ``batch`` with its numpy arrays made torch tensors (``torch.from_numpy``,
    sharing memory), lists, tuples and dicts rebuilt around them and plain
    values kept. Where torch has no unsigned type of the array's width
    (before torch 2.3), uint16 becomes int32 and uint32 int64, copied.

    :raises TypeError: an array torch cannot hold even so (uint64 before
        torch 2.3); the message names its place in the batch.
    """
    if isinstance(batch, np.ndarray):
        try:
            return torch.from_numpy(batch)
        except TypeError as error:
            wider = _WIDER.get(batch.dtype.name)
            if wider is not None:
                return torch.from_numpy(batch.astype(wider))
            raise TypeError(
                f"Cannot make {place} a torch tensor as its dtype is {batch.dtype}: {error}"
            ) from None
    if isinstance(batch, dict):
        return {key: to_tensors(value, f"{place}.{key}") for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_tensors(value, f"{place}.{i}") for i, value in enumerate(batch))
    return batch
