"""Reading one epoch from the ``/batch`` endpoints of several data hosts, in order."""

from __future__ import annotations

import collections
import http.client
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Deque, Generator, List, Optional, Sequence, Tuple

from ._format import MAX_HEADER_BYTES, MEDIA_TYPE, is_safe_integer
from ._structure import Batch
from .errors import RemoteBatchError, RemoteError
from .response import read_response

#: The protocol of the HTTP contract this package speaks.
PROTOCOL = 1

# Seconds to keep away from a host that answered 503 without Retry-After.
_DEFAULT_RETRY_AFTER = 1.0

# Seconds before asking a host again for a batch it failed, doubled each time up to 1.
_PAUSE = 0.1


def read_epoch(
    hosts: Sequence[str],
    *,
    seed: int,
    epoch: int = 0,
    shuffle: bool = False,
    shard: Tuple[int, int] = (0, 1),
    workers: int = 8,
    lookahead: Optional[int] = None,
    retries: int = 2,
    timeout: Optional[float] = 30.0,
    max_header_bytes: int = MAX_HEADER_BYTES,
) -> Generator[Batch, None, None]:
    """
    The batches of one epoch, in the epoch's order, fetched in parallel from
    the ``/batch`` endpoint of several hosts that serve the same dataset.

    Every host's ``/info`` is checked first (at once, not when iterating):
    protocol 1, the stream's media type, and one finite length on all of them.
    Then position ``P`` of the epoch is ``GET /batch?position=P&epoch=E&seed=S
    &shuffle=0|1`` on the least busy host (round robin among equals), with at
    most ``workers`` requests in flight and at most ``lookahead`` batches
    requested or held ahead of the one the caller takes next. A failed
    request is tried again, ``retries`` times, on a host it has not tried
    while there is one (else after a pause of 0.1 s, doubling up to 1 s); one
    that a host refuses as wrong (a 4xx) is not. A host that answers 503
    with ``Retry-After`` (at its limit) takes no more requests than it has in
    flight until one of them ends (with none in flight, none until its
    ``Retry-After`` has passed); the request goes elsewhere or waits, without
    using one of its tries. A 503 without it (a closed host) is a failed try. The
    hosts compute the shuffled order, so every host and every reader agrees
    on it given ``seed`` and ``epoch``.

    :param hosts: base URLs of the hosts, such as ``"http://127.0.0.1:8000"``.
    :param seed: the seed of the shuffle and of each batch's seed; required,
        and the same for every reader of the epoch.
    :param epoch: the epoch number, which reseeds the shuffle.
    :param shuffle: whether to read the epoch's positions in shuffled order.
    :param shard: ``(i, n)``: read only positions ``i, i + n, i + 2n, ...``;
        ``n`` readers with ``i = 0 .. n - 1`` together read every batch once.
    :param workers: the most requests in flight at once.
    :param lookahead: the most batches requested or held ahead of the
        caller, which bounds memory; by default ``2 * workers``.
    :param retries: how many times a failed request is tried again.
    :param timeout: seconds to wait for a host, per request and per read.
    :param max_header_bytes: the longest header accepted, in bytes.
    :returns: a generator of the batches; ``close()`` stops the requests.
    :raises RemoteError: a host is unreachable or its ``/info`` disagrees with
        the others' or with this package (the message names every such host).
    :raises RemoteBatchError: (while iterating) a batch could not be read,
        after the batches before it: the message names its position (and its
        index where known) and the last error, also its ``__cause__``.
    :raises TypeError, ValueError: an argument is of the wrong type or out of
        range (the message states its value).

    ``for x, y in read_epoch(["http://a:8000", "http://b:8000"], seed=7, shuffle=True): ...``
    """
    urls = _urls(hosts)
    _check_int("seed", seed, None)
    _check_int("epoch", epoch, 0)
    _check_int("workers", workers, 1)
    _check_int("retries", retries, 0)
    lookahead = 2 * workers if lookahead is None else lookahead
    _check_int("lookahead", lookahead, 1)
    start, step = _shard(shard)
    if timeout is not None and not timeout > 0:
        raise ValueError(f"Cannot read an epoch as timeout must be positive: current value is {timeout!r}")
    length = epoch_length(urls, timeout=timeout)
    query = {"epoch": epoch, "seed": seed, "shuffle": 1 if shuffle else 0}
    fetcher = _Fetcher(urls, query, retries, timeout, max_header_bytes)
    return _in_order(fetcher, range(start, length, step), workers, lookahead)


def epoch_length(hosts: Sequence[str], *, timeout: Optional[float] = 30.0) -> int:
    """
    The number of batches in an epoch of the hosts' dataset, from their
    ``/info``, checked as :func:`read_epoch` checks it.

    :raises RemoteError: a host is unreachable, speaks another protocol or
        media type, serves an infinite dataset, or the lengths differ; the
        message names every such host.
    """
    urls = _urls(hosts)
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        answers = list(pool.map(lambda url: _info(url, timeout), urls))
    problems = [problem for _, problem in answers if problem]
    lengths = {url: info["length"] for url, (info, problem) in zip(urls, answers) if not problem}
    if not problems and len(set(lengths.values())) > 1:
        problems.append(
            "their lengths differ: " + ", ".join(f"{url} has {n}" for url, n in lengths.items())
        )
    if problems:
        raise RemoteError(f"Cannot read an epoch from {', '.join(urls)} as " + "; ".join(problems))
    return next(iter(lengths.values()))


def _info(url: str, timeout: Optional[float]) -> Tuple[Any, Optional[str]]:
    """A host's ``/info``, and what is wrong with it or with reaching it (or ``None``)."""
    try:
        with urllib.request.urlopen(f"{url}/info", timeout=timeout) as response:
            info = json.loads(response.read(1 << 20))
    except urllib.error.HTTPError as error:
        with error:
            return None, f"{url}/info answered {error.code} {error.reason}"
    except (OSError, http.client.HTTPException, ValueError) as error:
        return None, f"{url}/info failed: {error}"
    if not isinstance(info, dict) or info.get("protocol") != PROTOCOL:
        protocol = info.get("protocol") if isinstance(info, dict) else None
        return None, f"{url} speaks protocol {json.dumps(protocol)}, not {PROTOCOL}"
    if info.get("mediaType") != MEDIA_TYPE:
        return None, f"{url} serves {json.dumps(info.get('mediaType'))}, not {MEDIA_TYPE}"
    length = info.get("length")
    if length is None:
        return None, f"{url} serves an infinite dataset (length null), which has no epoch to read"
    if not (is_safe_integer(length) and length >= 0):
        return None, f"{url} says its length is {json.dumps(length)}, not a count of batches"
    return info, None


def _urls(hosts: Sequence[str]) -> List[str]:
    if isinstance(hosts, str) or not all(isinstance(host, str) and host for host in hosts):
        raise TypeError(f"Cannot read an epoch as hosts must be a list of URLs: current value is {hosts!r}")
    if len(hosts) == 0:
        raise ValueError("Cannot read an epoch as hosts is empty: it needs at least one URL")
    return [host.rstrip("/") for host in hosts]


def _check_int(name: str, value: Any, minimum: Optional[int]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Cannot read an epoch as {name} must be an integer: current value is {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"Cannot read an epoch as {name} must be at least {minimum}: current value is {value}")


def _shard(shard: Tuple[int, int]) -> Tuple[int, int]:
    parts = tuple(shard) if isinstance(shard, (tuple, list)) else ()
    if not (
        len(parts) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in parts)
        and 0 <= parts[0] < parts[1]
    ):
        raise ValueError(
            f"Cannot read an epoch as shard must be (i, n) with 0 <= i < n: current value is {shard!r}"
        )
    return parts[0], parts[1]


class _Stopped(Exception):
    """The reader went away: a request not yet made is not made."""


class _Hosts:
    """Which host takes the next request: the least busy that is neither backing off nor full.

    A host that answers a busy 503 while others of these requests are in flight there is
    full at that many until one of them ends; one with nothing else in flight there backs
    off for its ``Retry-After``.
    """

    def __init__(self, count: int) -> None:
        self._changed = threading.Condition()
        self._stopped = False
        self._busy = [0] * count
        self._full_at: List[Optional[int]] = [None] * count
        self._not_before = [0.0] * count
        self._next = 0

    def stop(self) -> None:
        """Wakes every waiting request, to be dropped."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def acquire(self, avoid: Sequence[int]) -> int:
        """A host for a request, preferring those not in ``avoid``; waits while none can take it."""
        with self._changed:
            while not self._stopped:
                now = time.monotonic()
                count = len(self._busy)
                ready = [i for i in range(count) if self._open(i, now)]
                if ready:
                    fresh = [i for i in ready if i not in avoid] or ready
                    host = min(fresh, key=lambda i: (self._busy[i], (i - self._next) % count))
                    self._busy[host] += 1
                    self._next = (host + 1) % count
                    return host
                later = [t for t in self._not_before if t > now]
                # Woken by a request that ends (a place frees) or by stop(), else at a back-off's end.
                self._changed.wait(min(later) - now if later else None)
            raise _Stopped()

    def _open(self, host: int, now: float) -> bool:
        full_at = self._full_at[host]
        return self._not_before[host] <= now and (full_at is None or self._busy[host] < full_at)

    def release(self, host: int, busy: bool = False) -> None:
        """A request to ``host`` ended; ``busy`` when the host refused it as full."""
        with self._changed:
            self._busy[host] -= 1
            if not busy:
                self._full_at[host] = None
            self._changed.notify()

    def refused(self, host: int, retry_after: float) -> None:
        """``host`` answered a busy 503 (the refused request is still counted in flight)."""
        with self._changed:
            others = self._busy[host] - 1
            if others > 0:
                self._full_at[host] = others
            else:
                self.back_off(host, retry_after)
            self._changed.notify_all()

    def back_off(self, host: int, seconds: float) -> None:
        with self._changed:
            self._not_before[host] = max(self._not_before[host], time.monotonic() + seconds)


class _Fetcher:
    """Fetches the batch at a position, trying again on other hosts."""

    def __init__(
        self,
        urls: List[str],
        query: dict,
        retries: int,
        timeout: Optional[float],
        max_header_bytes: int,
    ) -> None:
        self.stop = threading.Event()
        self._urls = urls
        self._query = query
        self._retries = retries
        self._timeout = timeout
        self._max_header_bytes = max_header_bytes
        self.hosts = _Hosts(len(urls))

    def __call__(self, position: int) -> Batch:
        tried: List[int] = []
        query = urllib.parse.urlencode({"position": position, **self._query})
        last: BaseException = RuntimeError("no attempt")
        url = ""
        attempt = 0
        while attempt <= self._retries:
            # Once every host has had its try, a pause before asking one again.
            pause = min(_PAUSE * 2 ** (attempt - len(self._urls)), 1.0) if attempt >= len(self._urls) else 0
            if self.stop.wait(pause):
                raise _Stopped()
            host = self.hosts.acquire(tried)
            refused = False
            url = f"{self._urls[host]}/batch?{query}"
            try:
                return self._one(url)
            except RemoteError as error:
                if error.status == 503 and error.retry_after is not None:
                    # Busy: no failure, and no attempt used; another host, or this one later.
                    self.hosts.refused(host, error.retry_after)
                    refused = True
                    continue
                last = error
                tried.append(host)
                attempt += 1
                if error.status == 503:
                    self.hosts.back_off(host, _DEFAULT_RETRY_AFTER)  # going away
                elif error.status is not None and 400 <= error.status < 500:
                    break  # the request itself is wrong: every host would refuse it
            except (OSError, http.client.HTTPException, ValueError) as error:
                last = error
                tried.append(host)
                attempt += 1
            finally:
                self.hosts.release(host, busy=refused)
        raise self._failure(position, len(tried), url, last) from last

    def _one(self, url: str) -> Batch:
        """The one batch a ``/batch`` response carries."""
        with read_response(url, timeout=self._timeout, max_header_bytes=self._max_header_bytes) as batches:
            batch = next(batches, _NONE)
            if batch is _NONE or next(batches, _NONE) is not _NONE:
                raise ValueError(f"Cannot read {url} as its body is not exactly one batch")
            return batch

    def _failure(self, position: int, attempts: int, url: str, last: BaseException) -> RemoteBatchError:
        index = getattr(last, "index", None)
        if index is None and not self._query["shuffle"]:
            index = position
        epoch = self._query["epoch"]
        what = f"batch {index} (position {position} of epoch {epoch})" if index is not None else (
            f"the batch at position {position} of epoch {epoch}"
        )
        tries = "attempt" if attempts == 1 else "attempts"
        return RemoteBatchError(
            f"Cannot read {what} after {attempts} {tries}: {last}",
            name=getattr(last, "name", type(last).__name__),
            status=getattr(last, "status", None),
            url=url,
            index=index,
            position=position,
            attempts=attempts,
        )


_NONE = object()


def _in_order(
    fetch: _Fetcher,
    positions: range,
    workers: int,
    lookahead: int,
) -> Generator[Batch, None, None]:
    """The batches at ``positions``, in order, fetched ``lookahead`` ahead on ``workers`` threads."""
    todo = iter(positions)
    pending: Deque[Future] = collections.deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pydataset-reader")

    def submit(position: int) -> None:
        pending.append(pool.submit(fetch, position))

    try:
        for position in itertools.islice(todo, lookahead):
            submit(position)
        while pending:
            batch = pending.popleft().result()
            for position in itertools.islice(todo, 1):
                submit(position)
            yield batch
    finally:
        # Requests not yet made are dropped; those in flight end within their timeout.
        fetch.stop.set()
        fetch.hosts.stop()
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
