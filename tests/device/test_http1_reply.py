"""The lean push path's reply reader: every framing, fed whole and byte by byte, bounded."""

from __future__ import annotations

import gzip
import zlib

import pytest

from facepush.device.http1_reply import BadReply, ReplyReader

OK = b'{"code":200,"msg":"success"}'


def read(raw: bytes, max_body: int = 1 << 20, *, bytewise: bool = False) -> ReplyReader:
    reader = ReplyReader(max_body)
    pieces = [raw[i : i + 1] for i in range(len(raw))] if bytewise else [raw]
    for n, piece in enumerate(pieces):
        if reader.feed(piece):
            assert n == len(pieces) - 1, "complete before the last byte"
            return reader
    raise AssertionError("reply not complete")


@pytest.mark.parametrize("bytewise", [False, True])
def test_a_content_length_reply_on_a_kept_alive_connection(bytewise: bool) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n" + OK
    reader = read(raw, bytewise=bytewise)
    assert (reader.status, reader.body, reader.reusable, reader.too_large) == (
        200,
        OK,
        True,
        False,
    )
    assert reader.headers["content-type"] == "application/json"


@pytest.mark.parametrize("bytewise", [False, True])
def test_a_chunked_reply_with_extensions_and_trailers(bytewise: bool) -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"a;ext=1\r\n" + OK[:10] + b"\r\n12\r\n" + OK[10:] + b"\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    reader = read(raw, bytewise=bytewise)
    assert reader.body == OK and reader.reusable


def test_a_reply_read_until_close_is_complete_only_when_the_peer_closes() -> None:
    reader = ReplyReader(1 << 20)
    assert not reader.feed(b"HTTP/1.0 200 OK\r\n\r\n" + OK)
    assert reader.closed() and reader.body == OK and not reader.reusable


def test_a_reply_cut_short_is_not_complete() -> None:
    reader = ReplyReader(1 << 20)
    assert not reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n" + OK[:5])
    assert not reader.closed()


def test_no_body_replies_and_interim_replies() -> None:
    assert read(b"HTTP/1.1 204 No Content\r\n\r\n").body == b""
    reader = read(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    assert (reader.status, reader.body) == (200, b"{}")


def test_connection_close_or_stray_bytes_forbid_reuse() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    assert not read(closing).reusable
    assert not read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk").reusable


def test_a_body_past_the_bound_is_never_held() -> None:
    announced = read(b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n", max_body=1000)
    assert announced.too_large and announced.body is None and not announced.reusable
    reader = ReplyReader(1000)
    assert not reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert not reader.feed(b"800\r\n" + b" " * 800 + b"\r\n")
    assert reader.feed(b"800\r\n" + b" " * 300)  # cut here, not at the end of the stream
    assert reader.too_large and reader.body is None
    unframed = ReplyReader(1000)
    unframed.feed(b"HTTP/1.1 200 OK\r\n\r\n")
    assert unframed.feed(b" " * 1001) and unframed.too_large


def test_compressed_bodies_are_inflated_up_to_the_bound() -> None:
    for encoding, data in [
        ("gzip", gzip.compress(OK)),
        ("deflate", zlib.compress(OK)),
        ("deflate", zlib.compress(OK)[2:-4]),  # raw deflate, as some servers send it
    ]:
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\n"
        raw = f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data
        assert read(raw).body == OK, encoding
    bomb = gzip.compress(b" " * (4 << 20), compresslevel=9)
    raw = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(bomb)}\r\n\r\n"
    inflated = read(raw.encode() + bomb)
    assert inflated.too_large and inflated.body is None and not inflated.reusable


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"SMTP 220 hello\r\n\r\n", "not an HTTP/1.1 status line"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "not an HTTP/1.1 status line"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed reply header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc", "not followed by"),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", "bad gzip"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * (70 << 10), "reply head larger than 64 KiB"),
    ],
)
def test_what_is_not_http_is_a_named_error(raw: bytes, message: str) -> None:
    with pytest.raises(BadReply, match=message):
        ReplyReader(1 << 20).feed(raw)
