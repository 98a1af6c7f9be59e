"""PyTorch's DataLoader on the batches of bench/table.ts's loader overhead.

Run by bench/table.ts, which prints the result beside pydataset's:

    python3 bench/torch_loader.py [--bare] [--consume] [--batches 500] [--runs 7]

Batch i is a fresh 4 MiB float32 tensor filled with i, from a map-style
Dataset read by a DataLoader with 2 workers and batch_size=None (each item is
a batch, as a PyDataset's getItem returns). With --bare it is bare instead:
torch.zeros with only its first and last float set to i, as the bench's
bare `new Float32Array(n)` (zeroed too; torch.zeros writes its zeros, where
a fresh ArrayBuffer gets zeroed pages from the system, but the DataLoader
copies each batch into shared memory anyway, which writes every byte). The
reader checks each batch's first and last float; with --consume it also
sums every batch, as a consumer that reads every byte, and checks the
epoch's total (the bench runs --bare without --consume, --consume without
--bare).

Prints one line of JSON: {"installed": true, "torch": ..., "batchesPerSecond":
the median of the timed epochs, "seconds": [...]}, or {"installed": false,
"error": ...} when torch cannot be imported (the bench then says "not
installed" instead of failing).
"""

import argparse
import json
import statistics
import sys
import time

try:
    import torch
    from torch.utils import data
except (ImportError, OSError) as error:
    print(json.dumps({"installed": False, "error": str(error)}))
    sys.exit(0)


class Floats(data.Dataset):
    """Batch i is a fresh tensor of `values` float32: filled with i, or
    with `bare` zeros but for its first and last float, set to i."""

    def __init__(self, batches, values, bare):
        self.batches = batches
        self.values = values
        self.bare = bare

    def __len__(self):
        return self.batches

    def __getitem__(self, index):
        if not self.bare:
            return torch.full((self.values,), float(index), dtype=torch.float32)
        batch = torch.zeros(self.values, dtype=torch.float32)
        batch[0] = index
        batch[-1] = index
        return batch


def epoch_seconds(loader, consume):
    """One epoch's wall time; with `consume`, after summing every batch."""
    started = time.perf_counter()
    total = 0.0
    for index, batch in enumerate(loader):
        if batch[0].item() != index or batch[-1].item() != index:
            raise AssertionError(f"batch {index} is not batch {index}")
        if consume:
            total += batch.sum().item()
    seconds = time.perf_counter() - started
    if consume:
        # The sum of each batch's floats over the epoch: the batches were
        # really read (i * values for batch i, filled; 2i, bare).
        n = len(loader.dataset)
        per_index = 2 if loader.dataset.bare else loader.dataset.values
        expected = per_index * n * (n - 1) / 2
        if abs(total - expected) > 1e-4 * expected:
            raise AssertionError(f"checksum {total}, expected {expected}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--values", type=int, default=1 << 20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--bare", action="store_true")
    parser.add_argument("--consume", action="store_true")
    args = parser.parse_args()
    loader = data.DataLoader(
        Floats(args.batches, args.values, args.bare),
        batch_size=None,
        num_workers=args.workers,
        # Kept across epochs, so that worker start-up is timed only in the
        # warm-up epoch, as pydataset keeps its workers.
        persistent_workers=True,
        # 4 per worker: 8 batches ahead, as pydataset's maxQueueSize 8.
        prefetch_factor=4,
    )
    epoch_seconds(loader, args.consume)  # warm up: start the workers
    seconds = [epoch_seconds(loader, args.consume) for _ in range(args.runs)]
    print(
        json.dumps(
            {
                "installed": True,
                "torch": torch.__version__,
                "batchesPerSecond": args.batches / statistics.median(seconds),
                "seconds": seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
