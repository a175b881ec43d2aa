"""The LLM side of a reply: stream text into sentences, run tool calls, let the model continue.

Each round streams one LLM answer. Text goes to the reply sentence by sentence as soon as it is complete;
after the reply's first piece, reading (and so generating) pauses until that piece has audio, so TTS has
the cores to itself for the audio that decides the latency.
If the round ends with tool calls, the spoken segment is closed, the calls run (concurrently), and their
results go back to the model as an assistant message with `tool_calls` plus one `tool` message each; the
next round continues the reply. After `max_rounds` rounds with calls the model is asked once more without
tools, so a model stuck calling functions still ends with an answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from voicewire.engines.base import ChatMessage, LanguageModel, TextDelta, ToolCall, ToolSpec
from voicewire.server.clock import Clock
from voicewire.server.functions import FunctionRunner
from voicewire.server.reply import Reply
from voicewire.server.reply_guard import guard_reply
from voicewire.server.sentences import SentenceSplitter

logger = logging.getLogger(__name__)


async def think(
    reply: Reply,
    *,
    llm: LanguageModel,
    model: str | None,
    messages: list[ChatMessage],
    tools: Sequence[ToolSpec],
    functions: FunctionRunner,
    clock: Clock,
    max_rounds: int,
) -> None:
    """Produce the reply's text into `reply`; `messages` grows by the tool exchanges."""
    for round_index in range(max_rounds + 1):
        offer = tools if round_index < max_rounds else ()
        text, calls = await _stream_round(
            reply, llm=llm, model=model, messages=messages, tools=offer, clock=clock
        )
        if not calls:
            return
        if not offer:
            logger.warning("LLM asked for %d tool call(s) after the last round; ignoring them", len(calls))
            return
        await reply.wait_released()  # a prepared reply runs no function before its turn is real
        reply.end_segment()
        exchange = reply.add_tool_exchange(calls)
        reply.listener.function_calls_started(reply)
        try:
            results = await asyncio.gather(*(functions.run(call) for call in calls))
        finally:
            reply.listener.function_calls_finished(reply)
        exchange.results = list(results)
        messages.append(ChatMessage("assistant", text, tool_calls=calls))
        messages.extend(
            ChatMessage("tool", result, tool_call_id=call.id)
            for call, result in zip(calls, results, strict=True)
        )


async def _stream_round(
    reply: Reply,
    *,
    llm: LanguageModel,
    model: str | None,
    messages: Sequence[ChatMessage],
    tools: Sequence[ToolSpec],
    clock: Clock,
) -> tuple[str, list[ToolCall]]:
    splitter = SentenceSplitter()
    text: list[str] = []
    calls: list[ToolCall] = []
    stream = guard_reply(llm, messages, tools=tools, model=model)
    try:
        async for event in stream:
            if isinstance(event, TextDelta):
                if reply.metrics.first_token is None:
                    reply.metrics.first_token = clock.now()
                text.append(event.text)
                for sentence in splitter.push(event.text):
                    reply.say(sentence)
                    await reply.first_audio()  # the model pauses while TTS makes the first audio
            else:
                calls.append(event)
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
    for sentence in splitter.flush():
        reply.say(sentence)
    return "".join(text), calls
