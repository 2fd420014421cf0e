"""A response body read under a size cap, counted after decompression.

A transport feeds the raw bytes it receives (still gzip- or deflate-encoded) to
:class:`BoundedBody`; it decodes them itself, asking zlib for no more output than the room
left under the cap, so a small compressed "bomb" fails at the cap instead of inflating in
memory. Both transports use it: the cap and its error are one rule. Sans-IO: zlib only.
"""

from __future__ import annotations

import zlib

from airflow_provider_okx.core.api.errors import OkxMalformedResponseError, OkxResponseTooLargeError

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
ACCEPT_ENCODING = "gzip, deflate"
"""What the transports announce: the encodings :class:`BoundedBody` can decode."""

_GZIP = zlib.MAX_WBITS | 16


class BoundedBody:
    """Collects one response body, decoded, refusing it past ``limit`` bytes.

    :param endpoint: ``METHOD /path``, for errors.
    :param limit: the most decoded bytes accepted.
    :param content_encoding: the response's ``Content-Encoding`` (``gzip``, ``deflate``,
        ``identity`` or none); anything else cannot be read and is a malformed answer.
    :param status: the HTTP status, for errors.
    """

    def __init__(self, endpoint: str, limit: int, content_encoding: str | None = None, status: int = 200):
        self.endpoint = endpoint
        self.limit = limit
        self.status = status
        self._chunks: list[bytes] = []
        self._size = 0
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise self._unreadable(f"Content-Encoding {content_encoding!r} is not supported")
        self._coding = codings[0] if codings else None
        self._decoder: zlib._Decompress | None = None
        self._fed = False
        self._pending = b""  # the first bytes of a deflate body, until its form is known
        if self._coding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(_GZIP)

    @property
    def size(self) -> int:
        """Decoded bytes so far."""
        return self._size

    def check_declared_length(self, content_length: str | None) -> None:
        """Refuse at once an unencoded body whose ``Content-Length`` is over the cap."""
        declared = (content_length or "").strip()
        if self._coding is None and declared.isdigit() and int(declared) > self.limit:
            raise OkxResponseTooLargeError(self.endpoint, self.limit)

    def feed(self, chunk: bytes) -> None:
        """Add received (still encoded) bytes; raise past the cap or on undecodable bytes."""
        if not chunk:
            return
        self._fed = True
        if self._coding is None:
            self._keep(chunk)
            return
        if self._decoder is None:  # deflate: zlib-wrapped (RFC 9110) or, from some servers, raw
            self._pending += chunk
            if len(self._pending) < 2:
                return
            head = self._pending
            self._pending = b""
            zlib_wrapped = (head[0] & 0x0F) == 8 and ((head[0] << 8) | head[1]) % 31 == 0
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
            chunk = head
        self._inflate(chunk)

    def _inflate(self, data: bytes) -> None:
        decoder = self._decoder
        assert decoder is not None
        try:
            while data:
                out = decoder.decompress(data, self.limit - self._size + 1)
                self._keep(out)
                data = decoder.unconsumed_tail
                if decoder.eof:
                    rest = decoder.unused_data
                    if rest and self._coding != "deflate":  # a gzip stream of several members
                        decoder = self._decoder = zlib.decompressobj(_GZIP)
                        data = rest
                    elif rest.strip():
                        raise self._unreadable("bytes after the end of the compressed body")
                    else:
                        break
        except zlib.error as error:
            raise self._unreadable(f"the {self._coding} body cannot be decoded ({error})") from None

    def _keep(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self.limit:
            self._chunks.clear()
            raise OkxResponseTooLargeError(self.endpoint, self.limit)
        self._chunks.append(data)

    def finish(self) -> bytes:
        """The whole decoded body (call once everything was fed)."""
        if not self._fed:  # an empty body, whatever its announced encoding
            return b""
        if self._pending:  # a deflate body of one byte: not a deflate stream
            raise self._unreadable("the deflate body is truncated")
        if self._decoder is not None:
            try:
                self._keep(self._decoder.flush())
            except zlib.error as error:
                raise self._unreadable(f"the {self._coding} body cannot be decoded ({error})") from None
            if not self._decoder.eof:
                raise self._unreadable(f"the {self._coding} body is truncated")
        return b"".join(self._chunks)

    def _unreadable(self, problem: str) -> OkxMalformedResponseError:
        return OkxMalformedResponseError(
            "malformed", f"unreadable response: {problem}", self.status, self.endpoint, field="body"
        )
