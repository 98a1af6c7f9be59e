"""
The HTTP cases of tests/python_reader_test.ts, which serves the hosts and
compares the JSON lines this prints (see _canonical.py) with TypeScript's:

  remote_cases.py response URL              one response, streamed
  remote_cases.py first URL                 one batch of a response, a second's wait, then close
  remote_cases.py batches HOST N EPOCH SEED /batch?index=0..N-1, in order
  remote_cases.py failures HOST             non-2xx answers and a wrong media type
  remote_cases.py epoch [options] HOST ...  read_epoch over the hosts
  remote_cases.py stall --lookahead L HOST ... takes one batch, waits a second, stops
"""

import argparse
import time
import urllib.error

from _canonical import canonical, describe_error, emit, emit_batches

from pydataset_reader import read_epoch, read_response


def response(args):
    batches = read_response(args.url)
    emit(batches_header=batches.headers.get("x-pydataset-batches"))
    emit_batches(batches)


def first(args):
    with read_response(args.url) as batches:
        emit(shape=list(next(batches)["x"].shape))
        time.sleep(1)  # time for the host to send what it would send unasked


def batches(args):
    for index in range(args.n):
        with read_response(f"{args.host}/batch?index={index}&epoch={args.epoch}&seed={args.seed}") as stream:
            emit(served=stream.headers.get("x-pydataset-index"))
            emit_batches(stream)


def failures(args):
    for path in ["/batch?index=1", "/batch?index=999&seed=1", "/nope", "/info"]:
        try:
            read_response(f"{args.host}{path}")
            emit(path=path, error=None)
        except (RuntimeError, ValueError) as error:
            emit(path=path, error=describe_error(error))
    try:
        read_response("http://127.0.0.1:9/epoch", timeout=5)
    except urllib.error.URLError as error:
        emit(path="unreachable", error={"class": type(error).__name__})


def epoch(args):
    def batches():
        yield from read_epoch(
            args.hosts,
            seed=args.seed,
            epoch=args.epoch,
            shuffle=args.shuffle,
            workers=args.workers,
            lookahead=args.lookahead,
            retries=args.retries,
            timeout=30,
        )

    emit_batches(batches())


def stall(args):
    batches = read_epoch(args.hosts, seed=1, workers=2, lookahead=args.lookahead)
    emit(batch=canonical(next(batches)))
    time.sleep(1)  # time for any request beyond the lookahead to be made
    batches.close()


parser = argparse.ArgumentParser()
commands = parser.add_subparsers(required=True)
command = commands.add_parser("response")
command.add_argument("url")
command.set_defaults(run=response)
command = commands.add_parser("first")
command.add_argument("url")
command.set_defaults(run=first)
command = commands.add_parser("batches")
command.add_argument("host")
for name in ["n", "epoch", "seed"]:
    command.add_argument(name, type=int)
command.set_defaults(run=batches)
command = commands.add_parser("failures")
command.add_argument("host")
command.set_defaults(run=failures)
command = commands.add_parser("epoch")
command.add_argument("--seed", type=int, required=True)
command.add_argument("--epoch", type=int, default=0)
command.add_argument("--shuffle", action="store_true")
command.add_argument("--workers", type=int, default=8)
command.add_argument("--lookahead", type=int)
command.add_argument("--retries", type=int, default=2)
command.add_argument("hosts", nargs="+")
command.set_defaults(run=epoch)
command = commands.add_parser("stall")
command.add_argument("--lookahead", type=int, required=True)
command.add_argument("hosts", nargs="+")
command.set_defaults(run=stall)
args = parser.parse_args()
args.run(args)
