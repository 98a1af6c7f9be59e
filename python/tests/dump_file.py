"""Prints each batch of a stream file as JSON lines (see _canonical.py): dump_file.py FILE."""

import sys

from _canonical import emit_batches

from pydataset_reader import read_batches

with open(sys.argv[1], "rb") as stream:
    emit_batches(read_batches(stream))
