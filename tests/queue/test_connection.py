"""Reaching the queue's Redis: URLs checked before anything connects, and a Redis that does not answer
said at once, with what to do."""

from __future__ import annotations

import time

import pytest

from grader.errors import UsageError
from grader.queue.connection import QueueUnreachable, check_url, connect, redacted
from tests.queue.conftest import free_port


@pytest.mark.parametrize("url", ["localhost:6379", "http://host:6379/0", "redis://", "redis://host:port/0"])
def test_a_url_that_is_not_redis_is_a_usage_error(url):
    with pytest.raises(UsageError) as caught:
        check_url(url)
    assert "is not a Redis URL" in caught.value.message or "port" in caught.value.message
    assert "redis://HOST:PORT/DB" in (caught.value.hint or "")


def test_passwords_never_reach_a_message():
    assert redacted("redis://:s3cret@queue.internal:6379/0") == "redis://:***@queue.internal:6379/0"
    assert redacted("redis://grader:s3cret@queue.internal/1") == "redis://grader:***@queue.internal/1"
    assert redacted("redis://queue.internal:6379/0") == "redis://queue.internal:6379/0"
    with pytest.raises(UsageError) as caught:
        check_url("http://:s3cret@host/0")
    assert "s3cret" not in str(caught.value)


def test_nothing_listening_is_said_at_once_with_the_fix():
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    began = time.monotonic()
    with pytest.raises(QueueUnreachable) as caught:
        connect(url)
    assert time.monotonic() - began < 10  # not after the minute of retries a restart gets
    assert "does not answer" in caught.value.message and "s3cret" not in str(caught.value)
    assert "redis-server" in (caught.value.hint or "") and caught.value.exit_code == 4


@pytest.mark.redis
def test_a_command_rides_out_a_restart(redis_server):
    client = connect(redis_server.url)
    client.set("kept", "1")
    redis_server.stop()
    import threading

    restart = threading.Timer(1.5, redis_server.start)
    restart.start()
    try:
        assert client.get("kept") == b"1"  # retried until the server was back, with its append-only file
    finally:
        restart.join()
        client.close()


@pytest.mark.redis
def test_a_missing_or_wrong_password_is_said_as_such(tmp_path):
    from tests.queue.conftest import RedisServer

    server = RedisServer(tmp_path / "redis", password="s3cret")
    server.start()
    try:
        with pytest.raises(QueueUnreachable) as missing:
            connect(server.url)
        assert "asks for a password, and --queue has none" in missing.value.message
        with pytest.raises(QueueUnreachable) as wrong:
            connect(server.url.replace("redis://", "redis://:wrong@"))
        assert "refused the login" in wrong.value.message and "wrong" not in str(wrong.value)
        connect(server.url.replace("redis://", "redis://:s3cret@")).close()
    finally:
        server.stop()
