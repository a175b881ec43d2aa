"""deploy/nginx.conf in front of two voicewire processes on loopback: sessions spread, a drain loses none.

Debian's nginx runs as a subprocess with a temporary prefix and the shipped config, its upstreams pointed at
two scripted-engine servers (`tests.server.scripted_server`) whose transcripts name their process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.net import free_port, wait_healthy
from tests.server.test_serving import (
    ROOT,
    scripted_server,
    sessions,
    start_session,
    take_turn,
    wait_ready,
)

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make install adds it)")


def render(port: int, upstreams: list[int]) -> str:
    """The shipped config with loopback addresses: the same upgrade, timeout and failover settings."""
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    config = config.replace("worker_processes auto;", "worker_processes 1;")
    config = config.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    lines = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstreams)
    config, count = re.subn(r"(        server voicewire-\d+:8080 [^\n]*\n)+", lines + "\n", config)
    assert count == 1
    return config


@contextlib.contextmanager
def nginx(tmp_path: Path, port: int, upstreams: list[int]) -> Iterator[subprocess.Popen[bytes]]:
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(render(port, upstreams))
    assert NGINX is not None
    globals_ = f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/logs/error.log;"
    command = [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", globals_]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


async def test_sessions_spread_over_two_hosts_and_a_drained_host_loses_no_other_session(
    tmp_path: Path,
) -> None:
    first_port, second_port, proxy_port = free_port(), free_port(), free_port()
    with (
        scripted_server(first_port, "--drain", "10") as first,
        scripted_server(second_port, "--drain", "10") as second,
    ):
        await asyncio.gather(wait_ready(first), wait_ready(second))
        with nginx(tmp_path, proxy_port, [first_port, second_port]):
            async with asyncio.timeout(10):
                await wait_healthy(proxy_port)
            url = f"ws://127.0.0.1:{proxy_port}/agent"
            async with sessions(url, 20) as live:
                hosts = await asyncio.gather(*(take_turn(ws) for ws in live))
                spread = collections.Counter(hosts)
                assert len(spread) == 2 and min(spread.values()) >= 5, spread
                stopped = f"worker {first.pid}"

                first.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                async with sessions(url, 10) as later:
                    later_hosts = await asyncio.gather(*(take_turn(ws) for ws in later))
                    assert set(later_hosts) == {f"worker {second.pid}"}
                    # Every session goes on: the stopped host's while it drains, the other host's as before.
                    again = await asyncio.gather(*(take_turn(ws) for ws in [*live, *later]))
                    assert again == [*hosts, *later_hosts]
                    draining = [ws for ws, host in zip(live, hosts, strict=True) if host == stopped]
                    await asyncio.gather(*(ws.close() for ws in draining))
                    assert await asyncio.to_thread(first.wait, 10) == 0
                    kept = [ws for ws, host in zip(live, hosts, strict=True) if host != stopped]
                    after = await asyncio.gather(*(take_turn(ws) for ws in [*kept, *later]))
                    assert set(after) == {f"worker {second.pid}"}
                    newest = await start_session(url)
                    assert await take_turn(newest) == f"worker {second.pid}"
                    await newest.close()
