"""The errors a data host or a writer reports, raised on the reading side."""

from __future__ import annotations

from typing import Optional


class RemoteError(RuntimeError):
    """
    An error the other side reported: a document of the stream that carries
    the writer's error, or a non-2xx response with its JSON error body.

    ``str(error)`` is the message. Attributes: ``name`` (the error's name on
    the other side, such as ``"RangeError"``), ``status`` (the HTTP status, or
    ``None`` for an error carried in the stream), ``url`` (where it came from,
    when known), ``index`` (the batch the other side names, or ``None``) and
    ``retry_after`` (seconds a 503 asked to wait, or ``None``).
    """

    def __init__(
        self,
        message: str,
        *,
        name: str = "Error",
        status: Optional[int] = None,
        url: Optional[str] = None,
        index: Optional[int] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.status = status
        self.url = url
        self.index = index
        self.retry_after = retry_after


class RemoteBatchError(RemoteError):
    """
    A batch failed on the other side, or could not be read from any host.

    Besides those of :class:`RemoteError`: ``index`` is the batch's index
    where the other side named it (the stream's error document or a 500 from
    ``/batch``), ``position`` its position in the epoch where
    :func:`~pydataset_reader.read_epoch` asked for it, and ``attempts`` how
    many requests were made for it.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str = "BatchError",
        status: Optional[int] = None,
        url: Optional[str] = None,
        index: Optional[int] = None,
        position: Optional[int] = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, name=name, status=status, url=url, index=index)
        self.position = position
        self.attempts = attempts
