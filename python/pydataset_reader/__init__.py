"""
Reads pydataset's batch stream into numpy: safetensors documents back to back,
one per batch (media type ``application/vnd.pydataset.safetensors-stream``),
from bytes or files (:func:`read_batches`), HTTP responses
(:func:`read_response`) and data hosts' ``/batch`` (:func:`read_epoch`), with a
PyTorch ``IterableDataset`` (:class:`RemoteIterableDataset`, where torch is
installed; importing this package does not need it).
"""

from typing import TYPE_CHECKING, Any

from ._format import MEDIA_TYPE
from ._structure import Batch
from .epoch import PROTOCOL, epoch_length, read_epoch
from .errors import RemoteBatchError, RemoteError
from .reader import read_batches
from .response import BatchStream, read_response

__all__ = [
    "MEDIA_TYPE",
    "PROTOCOL",
    "Batch",
    "BatchStream",
    "RemoteBatchError",
    "RemoteError",
    "RemoteIterableDataset",
    "epoch_length",
    "read_batches",
    "read_epoch",
    "read_response",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .torch_dataset import RemoteIterableDataset


def __getattr__(name: str) -> Any:
    # Only the dataset needs torch: it is imported when first asked for.
    if name == "RemoteIterableDataset":
        from .torch_dataset import RemoteIterableDataset

        return RemoteIterableDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
