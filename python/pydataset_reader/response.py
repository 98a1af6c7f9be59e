"""Reading batches from an HTTP response, with the standard library only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from typing import Any, Iterator, Optional, Union

from ._format import MAX_HEADER_BYTES, MEDIA_TYPE, is_safe_integer
from ._structure import Batch
from .errors import RemoteBatchError, RemoteError
from .reader import read_batches

# An error body is JSON of a few fields: more than this is not read.
_MAX_ERROR_BODY = 1 << 16


class BatchStream(Iterator[Batch]):
    """
    The batches of one HTTP response, decoded as they arrive: an iterator
    that closes the response when it ends, fails or is closed, and a context
    manager that closes it on exit. ``status``, ``headers`` and ``url`` are
    the response's (``headers["x-pydataset-batches"]`` says how many batches
    an ``/epoch`` response carries).
    """

    def __init__(self, response: Any, url: str, max_header_bytes: int) -> None:
        self.status: int = _status(response)
        self.headers: Message = response.headers
        self.url = url
        self._response = response
        self._batches = read_batches(response, max_header_bytes=max_header_bytes)

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> Batch:
        try:
            return next(self._batches)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stops reading and closes the response (once; later calls do nothing)."""
        self._batches.close()
        self._response.close()

    def __enter__(self) -> "BatchStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_response(
    url_or_response: Union[str, urllib.request.Request, Any],
    *,
    timeout: Optional[float] = 30.0,
    max_header_bytes: int = MAX_HEADER_BYTES,
) -> BatchStream:
    """
    The batches of an HTTP response, streamed: each is decoded as its bytes
    arrive, and the body is never read ahead of the batch being yielded.

    The status and content type are checked at once, before any batch is
    read; a non-2xx response raises with the server's JSON error body.

    :param url_or_response: a URL or ``urllib.request.Request`` to GET with
        ``urllib.request.urlopen``, or a response already opened (anything with
        ``status``, ``headers``, ``read`` and ``close``, as ``urlopen`` gives).
    :param timeout: seconds to wait for the server, on connecting and on each
        read, when this function opens the URL; ``None`` waits for ever.
    :param max_header_bytes: the longest header accepted, in bytes.
    :returns: a :class:`BatchStream` of the batches.
    :raises RemoteBatchError: the server's 500 for a failed batch (its index
        in ``index``), or the error document that ends a stream with a
        failed batch (while iterating).
    :raises RemoteError: another non-2xx response: ``status``, and the
        server's ``name`` and message (``retry_after`` for a 503).
    :raises ValueError: the response is not of the stream's media type, or
        the stream is malformed (while iterating).
    :raises OSError: the server cannot be reached (``urllib.error.URLError``).

    ``for batch in read_response("http://127.0.0.1:8000/epoch?seed=1"): ...``
    """
    if isinstance(url_or_response, (str, urllib.request.Request)):
        request = url_or_response
        if isinstance(request, str):
            request = urllib.request.Request(request, headers={"accept": MEDIA_TYPE})
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            with error:
                raise _failure(error, request.full_url) from None
    else:
        response = url_or_response
    url = getattr(response, "url", None) or "the response"
    try:
        if not 200 <= _status(response) < 300:
            raise _failure(response, url)
        content_type = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type != MEDIA_TYPE:
            raise ValueError(
                f"Cannot read batches from {url} as its content-type is "
                f"{json.dumps(content_type or None)}, not {MEDIA_TYPE}"
            )
    except BaseException:
        response.close()
        raise
    return BatchStream(response, url, max_header_bytes)


def _status(response: Any) -> int:
    status = getattr(response, "status", None)
    if status is None:
        status = response.getcode()
    return int(status)


def _failure(response: Any, url: str) -> RemoteError:
    """The error of a non-2xx response, from its JSON body ``{name, message, index?}``."""
    status = _status(response)
    text = response.read(_MAX_ERROR_BODY).decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    message = body["message"] if isinstance(body.get("message"), str) else text.strip()
    name = body["name"] if isinstance(body.get("name"), str) else "Error"
    reason = getattr(response, "reason", None) or ""
    summary = f"Cannot read batches from {url} as it failed: {status} {reason}".rstrip()
    full = f"{summary}: {message}" if message else summary
    index = body.get("index")
    if isinstance(index, (int, float)) and is_safe_integer(index):
        return RemoteBatchError(full, name=name, status=status, url=url, index=int(index))
    return RemoteError(
        full,
        name=name,
        status=status,
        url=url,
        retry_after=_retry_after(response.headers.get("retry-after")),
    )


def _retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a ``Retry-After`` header of whole seconds; ``None`` for none or a date."""
    text = (value or "").strip()
    return float(text) if text.isascii() and text.isdigit() else None
