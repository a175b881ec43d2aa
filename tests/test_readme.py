"""The README is true: its configuration loads (and starts the real engines), its Python compiles and
imports only names that exist, and the options it shows exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from voicewire import cli
from voicewire.engines.registry import EngineConfig, EngineRegistry
from voicewire.server.config import load_config

README = Path(__file__).resolve().parents[1] / "README.md"
#: Files the README shows whole; they run with Deepgram's own SDKs in tests/e2e/test_v1_examples.py.
EXAMPLES = sorted((README.parent / "examples" / "v1").iterdir())


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), flags=re.MULTILINE | re.DOTALL)


def test_the_readme_has_the_blocks_these_tests_check() -> None:
    assert len(blocks("toml")) >= 1 and len(blocks("python")) >= 2


@pytest.mark.parametrize("index", range(len(blocks("toml"))))
def test_every_toml_block_loads_as_written(index: int, tmp_path: Path) -> None:
    path = tmp_path / "voicewire.toml"
    path.write_text(blocks("toml")[index])
    config = load_config(path, environ={})
    config.check()
    engines = EngineConfig.from_mapping(config.engines, environ={})
    assert engines.llm.model_path is None or Path(engines.llm.model_path).exists(), (
        "a config copied from the README must not name a model file that is not there"
    )


@pytest.mark.models
def test_the_readme_config_starts_the_real_engines(tmp_path: Path) -> None:
    """What crashed with `Model path does not exist`, or would with a voice no engine has."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("piper")
    pytest.importorskip("espeakng_loader")
    path = tmp_path / "voicewire.toml"
    path.write_text(blocks("toml")[0])
    registry = EngineRegistry.load_default(EngineConfig.from_mapping(load_config(path, environ={}).engines))
    assert registry.voice_for("aura-luna-en").voice == "en-us+f3"
    assert registry.choose_llm("open_ai", "gpt-4o").model == "qwen2.5-72b-instruct"
    assert registry.choose_llm("open_ai", "gpt-4o-mini").model == "qwen2.5-7b-instruct"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_the_example_files_are_shown_as_they_are(example: Path) -> None:
    assert example.read_text() in blocks("python") + blocks("js")


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_every_python_block_compiles_and_its_imports_exist(index: int) -> None:
    source = blocks("python")[index]
    if source in {example.read_text() for example in EXAMPLES}:
        pytest.skip("an example for Deepgram's own SDK: run by tests/e2e/test_v1_examples.py")
    tree = ast.parse(source)
    compile(tree, f"README.md python block {index}", "exec")
    imports = ast.Module(
        body=[n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)], type_ignores=[]
    )
    exec(compile(imports, "imports", "exec"), {})


@pytest.mark.parametrize(
    "argv",
    [
        [
            "--log-level",
            "INFO",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "8080",
            "--config",
            "f",
            "--insecure",
        ],
        ["serve", "--log-format", "json"],
        [
            "converse",
            "a.wav",
            "--url",
            "ws://x",
            "--out",
            "r.wav",
            "--json",
            "--speed",
            "2",
            "--settings",
            "s",
        ],
        ["converse", "a.wav", "--config", "c.toml", "--functions", "f.json", "--api-key", "k"],
    ],
)
def test_the_command_lines_it_shows_parse(argv: list[str]) -> None:
    cli.build_parser().parse_args(argv)
