"""The playground's files over real HTTP: the right bytes, types and headers, nothing outside the package."""

from __future__ import annotations

from importlib import resources

import httpx
import pytest

from tests.server.net import fast_config, running


async def get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.get(f"http://127.0.0.1:{port}{path}")


@pytest.mark.parametrize(
    ("path", "name", "content_type"),
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/static/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/static/mic-worklet.js", "mic-worklet.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "style.css", "text/css; charset=utf-8"),
    ],
)
async def test_the_page_and_its_files_are_served(path: str, name: str, content_type: str) -> None:
    async with running() as server:
        response = await get(server.port, path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.content == (resources.files("voicewire.playground") / name).read_bytes()
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_everything_the_page_loads_comes_from_the_server() -> None:
    async with running() as server:
        page = (await get(server.port, "/")).text
        assert "http" not in page  # no CDN, no absolute URL of any kind
        for path in ("/static/style.css", "/static/app.js"):
            assert f'"{path}"' in page
            assert (await get(server.port, path)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/",
        "/static/__init__.py",
        "/static/../app.py",
        "/static/%2e%2e/server/app.py",
        "/static/nope.js",
    ],
)
async def test_nothing_but_the_listed_files(path: str) -> None:
    async with running() as server:
        assert (await get(server.port, path)).status_code == 404


@pytest.mark.parametrize(("keys", "required"), [((), False), (("k" * 16,), True)])
async def test_the_page_learns_whether_a_key_is_needed(keys: tuple[str, ...], required: bool) -> None:
    async with running(fast_config(api_keys=keys)) as server:
        response = await get(server.port, "/playground.json")
    assert response.status_code == 200
    assert response.json() == {"api_key_required": required}
