"""Reading one HTTP/1.1 reply off a kept-alive connection, fed in pieces as they arrive,
bounded: a body (announced, chunked, read until close, or inflated from gzip/deflate) larger
than `max_body` is never held; the reply then counts as too large and the connection is not
reused. The device's lean request path (http1.py) reads its replies with it."""

from __future__ import annotations

import zlib

MAX_HEAD = 64 << 10  # status line and headers; a receiver's are a few hundred bytes
_MAX_LINE = 8 << 10  # a chunk-size or trailer line


class BadReply(Exception):
    """The bytes are not an HTTP/1.1 reply."""


class ReplyReader:
    """One reply. `feed(data)` returns True once it is complete; then `status`, `body`
    (None: larger than `max_body`) and `reusable` (the connection may carry the next
    request) describe it. `closed()` tells it the peer closed the connection."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body: bytes | None = None
        self.reusable = False
        self.complete = False
        self.too_large = False
        self._buf = bytearray()
        self._data = bytearray()
        self._framing = ""  # "" (head not read yet), "length", "chunked", "close"
        self._left = 0  # bytes left of the body or of the current chunk
        self._chunk_state = "size"  # "size", "data", "crlf", "trailer"

    def feed(self, data: bytes) -> bool:
        buf = self._buf
        buf += data
        while not self._framing:
            if not self._read_head():
                return False
            if self.complete:  # announced too large
                return True
            if not self._framing and self.status >= 200:  # a reply without a body
                return self._done()
        if self._framing == "length":
            take = min(self._left, len(buf))
            self._data += buf[:take]
            del buf[:take]
            self._left -= take
            return self._left == 0 and self._done()
        if self._framing == "chunked":
            return self._read_chunks()
        self._data += buf
        buf.clear()
        if len(self._data) > self.max_body:
            return self._too_large()
        return False

    def closed(self) -> bool:
        """The peer closed the connection: True if that completes the reply (a body read
        until close); False if the reply is cut short."""
        if self._framing == "close":
            self.reusable = False
            return self._done()
        return False

    # -- the head ------------------------------------------------------------------------

    def _read_head(self) -> bool:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise BadReply(f"reply head larger than {MAX_HEAD >> 10} KiB")
            return False
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[: end + 4]
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise BadReply(f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
        self.status = int(code)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise BadReply(f"malformed reply header: {line[:80]!r}")
            headers[name.lower()] = value.strip()
        self.headers = headers
        connection = headers.get("connection", "").lower()
        self.reusable = version == "HTTP/1.1" and "close" not in connection
        if self.status < 200 or self.status in (204, 304):
            return True  # no body (an interim reply is followed by the real one)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._framing = "chunked"
        elif (length := headers.get("content-length")) is not None:
            if not length.isdigit():
                raise BadReply(f"bad Content-Length {length[:40]!r}")
            self._framing, self._left = "length", int(length)
            if self._left > self.max_body:
                self._too_large()
        else:
            self._framing, self.reusable = "close", False
        return True

    # -- a chunked body --------------------------------------------------------------------

    def _read_chunks(self) -> bool:
        buf = self._buf
        while buf:
            state = self._chunk_state
            if state == "data":
                take = min(self._left, len(buf))
                self._data += buf[:take]
                del buf[:take]
                self._left -= take
                if len(self._data) > self.max_body:
                    return self._too_large()
                if self._left == 0:
                    self._chunk_state = "crlf"
                continue
            if state == "crlf":
                if len(buf) < 2:
                    return False
                if buf[:2] != b"\r\n":
                    raise BadReply("chunk not followed by CRLF")
                del buf[:2]
                self._chunk_state = "size"
                continue
            line = self._line()
            if line is None:
                return False
            if state == "trailer":
                if not line:
                    return self._done()
                continue
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadReply(f"bad chunk size {bytes(line[:40])!r}") from None
            self._chunk_state, self._left = ("data", size) if size else ("trailer", 0)
        return False

    def _line(self) -> bytearray | None:
        buf = self._buf
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > _MAX_LINE:
                raise BadReply("chunk line too long")
            return None
        line = buf[:end]
        del buf[: end + 2]
        return line

    # -- the end -----------------------------------------------------------------------------

    def _done(self) -> bool:
        if self._buf:
            self.reusable = False  # bytes after the reply: never reuse such a connection
        self.body = self._inflate(bytes(self._data))
        self.complete = True
        return True

    def _too_large(self) -> bool:
        self.body, self.reusable, self.too_large, self.complete = None, False, True, True
        self._data.clear()
        return True

    def _inflate(self, data: bytes) -> bytes | None:
        encoding = self.headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "x-gzip"):
            wbits = 47  # gzip or zlib header, detected
        elif encoding == "deflate":
            wbits = 15 if data[:1] and data[0] & 0x0F == 8 else -15  # zlib, else raw
        else:
            return data
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(data, self.max_body + 1)
        except zlib.error as exc:
            raise BadReply(f"bad {encoding} body: {exc}") from None
        if len(out) > self.max_body:
            self.reusable, self.too_large = False, True
            return None
        return out
