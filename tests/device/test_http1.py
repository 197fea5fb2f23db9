"""The lean push path against real sockets on 127.0.0.1: kept-alive connections reused,
closed ones replaced, and every failure a named error, never a hang past the timeout."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable

import pytest

from facepush.device.http1 import ConnectFailed, Http1Client, ServerDisconnectedError
from tests.support.processes import LOOPBACK, free_port

OK = b'{"code":200,"msg":"success"}'
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(OK), OK)


class RawServer:
    """Reads requests (head + Content-Length body) and answers each with `answer(n)`:
    the bytes to write, or None to close the connection without a reply."""

    def __init__(self, answer: Callable[[int], bytes | None]) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://{LOOPBACK}:{port}/Record"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append((head, await reader.readexactly(length)))
                reply = self.answer(len(self.requests))
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def client() -> AsyncIterator[Http1Client]:
    http = Http1Client()
    yield http
    await http.close()


async def serve(answer: Callable[[int], bytes | None]) -> RawServer:
    server = RawServer(answer)
    await server.start()
    return server


async def stop(server: RawServer) -> None:
    assert server.server is not None
    server.server.close()
    await asyncio.wait_for(server.server.wait_closed(), 10)


async def test_one_connection_carries_one_push_after_another(client: Http1Client) -> None:
    server = await serve(lambda n: REPLY)
    try:
        body = b'{"type":0,"data":{}}' * 2000  # 40 KB, sent as it is
        for _ in range(5):
            reply = await client.post(server.url, None, "webhook-id: r:1\r\n", body, 1 << 20, 5)
            assert (reply.status, reply.body) == (200, OK)
        assert server.connections == 1 and len(server.requests) == 5
        head, sent = server.requests[0]
        assert sent == body
        assert head.startswith(b"POST /Record HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"\r\nwebhook-id: r:1\r\n" in head and b"Content-Type: application/json" in head
    finally:
        await stop(server)


async def test_a_connection_the_receiver_closes_is_replaced(client: Http1Client) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (
        len(OK),
        OK,
    )
    server = await serve(lambda n: closing)
    try:
        for _ in range(3):
            assert (await client.post(server.url, None, "", b"{}", 1 << 20, 5)).body == OK
        assert server.connections == 3
    finally:
        await stop(server)


async def test_no_reply_is_server_disconnected_and_a_silent_receiver_a_timeout(
    client: Http1Client,
) -> None:
    server = await serve(lambda n: None)
    try:
        with pytest.raises(ServerDisconnectedError, match="Server disconnected"):
            await client.post(server.url, None, "", b"{}", 1 << 20, 5)
        server.answer = lambda n: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"  # then hangs
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await client.post(server.url, None, "", b"{}", 1 << 20, 0.3)
        assert asyncio.get_running_loop().time() - started < 3
        server.answer = lambda n: REPLY  # a fresh connection after the timed-out one
        assert (await client.post(server.url, None, "", b"{}", 1 << 20, 5)).body == OK
    finally:
        await stop(server)


async def test_no_listener_is_a_connect_failure(client: Http1Client) -> None:
    url = f"http://{LOOPBACK}:{free_port()}/Record"
    with pytest.raises(ConnectFailed) as failed:
        await client.post(url, None, "", b"{}", 1 << 20, 5)
    assert isinstance(failed.value.os_error, OSError)


async def test_credentials_in_the_url_travel_as_basic_auth(client: Http1Client) -> None:
    server = await serve(lambda n: REPLY)
    try:
        url = server.url.replace("http://", "http://integrator:s%40cret@")
        await client.post(url, None, "", b"{}", 1 << 20, 5)
        head = server.requests[0][0].decode()
        expected = base64.b64encode(b"integrator:s@cret").decode()
        assert f"\r\nAuthorization: Basic {expected}\r\n" in head
        assert "s%40cret" not in head.split("\r\n")[0]  # not in the request line
    finally:
        await stop(server)


async def test_a_closed_client_refuses_to_send() -> None:
    http = Http1Client()
    await http.close()
    with pytest.raises(RuntimeError, match="closed"):
        await http.post(f"http://{LOOPBACK}:9/Record", None, "", b"{}", 1 << 20, 5)
