from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

from voicewire.engines.base import ChatMessage, LlmEvent, TextDelta, ToolCall, ToolSpec
from voicewire.engines.scripted import ScriptedLlm
from voicewire.server.reply_guard import (
    FALLBACKS,
    Resampling,
    echo_share,
    fallback,
    fresh_history,
    guard_reply,
    is_echo,
    is_foreign,
    is_repeat,
    words,
)

SYSTEM = ChatMessage("system", "Be helpful.")


def conversation(*texts: str) -> list[ChatMessage]:
    """System prompt, then alternating user / assistant texts, starting with the user."""
    roles = ("user", "assistant")
    return [SYSTEM, *(ChatMessage(roles[i % 2], text) for i, text in enumerate(texts))]  # type: ignore[arg-type]


async def said(llm: object, messages: list[ChatMessage]) -> tuple[str, list[LlmEvent]]:
    events = [event async for event in guard_reply(llm, messages)]  # type: ignore[arg-type]
    return "".join(e.text for e in events if isinstance(e, TextDelta)), events


def test_words_are_lower_case_with_straight_apostrophes() -> None:
    assert words("I\u2019m OK, 12 Elm St.!") == ["i'm", "ok", "12", "elm", "st"]


def test_an_echo_is_mostly_the_users_words_in_order() -> None:
    assert is_echo("Establish justice.", "establish justice")
    assert is_echo(
        "Well, what are your opening hours on Saturday?", "What are your opening hours on Saturday?"
    )
    assert echo_share("Justice establish.", "Establish justice.") == 0.5  # out of order: one word matches
    assert not is_echo("The capital of France is Paris.", "What is the capital of France?")
    assert not is_echo("", "anything")


def test_a_repeat_has_the_same_words_and_is_not_empty() -> None:
    assert is_repeat("I'm sorry, I can't help.", "i'm sorry i can't help")
    assert not is_repeat("I'm sorry, I can't help with that.", "I'm sorry, I can't help.")
    assert not is_repeat("", "")


def test_the_fallback_is_never_the_previous_reply() -> None:
    assert fallback("") == FALLBACKS[0]
    assert fallback(FALLBACKS[0]) == FALLBACKS[1]


def test_the_model_does_not_read_its_echoes_and_repeats() -> None:
    call = ToolCall("call_1", "get_time", "{}")
    messages = [
        SYSTEM,
        ChatMessage("user", "Establish justice."),
        ChatMessage("assistant", "Establish justice."),
        ChatMessage("user", "Hello?"),
        ChatMessage("assistant", "La femme fleur est un débat."),
        ChatMessage("user", "Hello again?"),
        ChatMessage("assistant", "Sorry, I can't help."),
        ChatMessage("user", "Why not?"),
        ChatMessage("assistant", "Sorry, I can't help."),
        ChatMessage("user", "What time is it?"),
        ChatMessage("assistant", "", tool_calls=[call]),
        ChatMessage("tool", "noon", tool_call_id="call_1"),
    ]
    kept = fresh_history(messages)
    assert [m.content for m in kept if m.role == "assistant"] == ["Sorry, I can't help.", ""]
    assert kept[-1].role == "tool" and len(kept) == len(messages) - 3


def test_a_reply_without_an_english_word_to_an_english_user_is_foreign() -> None:
    assert is_foreign("Un petit fil de la femme fleur est un débat.", "How many legs does a spider have?")
    assert not is_foreign("La femme fleur is the capital of France.", "What is the capital of France?")
    assert not is_foreign("Paris, France.", "What is the capital of France?")  # too short to tell
    assert not is_foreign("Justice means fairness.", "Establish justice.")  # no English word to go by


def test_a_reply_with_more_romance_particles_than_english_words_is_foreign() -> None:
    user = "I would like to book a table for two at eight."
    assert is_foreign("Alec, a la fama.", user)  # the shared article "a" does not make it English
    assert is_foreign("Il ristorante è aperto a la sera con una terrazza.", user)
    assert not is_foreign("A table for two at eight, under which name?", user)
    assert not is_foreign("A quiet corner table.", user)  # only "a" to go by, and nothing foreign
    assert not is_foreign("Sure, the table at La Tour is yours.", user)  # a name among English words


async def test_a_reply_in_another_language_is_written_again() -> None:
    llm = ScriptedLlm([["La femme fleur est un débat. Oui."], ["A spider has eight legs."]])
    text, _ = await said(llm, conversation("How many legs does a spider have?"))
    assert text == "A spider has eight legs."


async def test_a_good_reply_passes_unchanged_after_a_first_token_mark() -> None:
    llm = ScriptedLlm([["Paris is the capital. It is in the north."]])
    text, events = await said(llm, conversation("What is the capital of France?"))
    assert text == "Paris is the capital. It is in the north."
    assert events[0] == TextDelta("")
    assert len(llm.requests) == 1


async def test_an_echo_is_never_spoken_and_the_model_is_asked_again() -> None:
    llm = ScriptedLlm([["Establish justice. It is a goal."], ["Justice means fair laws for all."]])
    text, _ = await said(llm, conversation("Establish justice."))
    assert text == "Justice means fair laws for all."
    assert llm.closed == 1  # the echo's generation was stopped at its first piece


async def test_the_previous_first_sentence_is_not_said_again() -> None:
    llm = ScriptedLlm([["I'm sorry for your loss. Anything else?"], ["A technician can visit tomorrow."]])
    messages = conversation("My internet is down.", "I'm sorry for your loss. Please wait.", "Still down.")
    text, _ = await said(llm, messages)
    assert text == "A technician can visit tomorrow."


async def test_a_nearly_identical_reply_is_a_repeat() -> None:
    before = "S'il faite, no. I'm sorry for the inconvenience you're facing!"
    llm = ScriptedLlm(
        [["S'il faite, no. I'm sorry for any inconvenience you're facing!"], ["We have a terrace."]]
    )
    text, _ = await said(llm, conversation("Parking?", before, "Can we sit outside?"))
    assert text == "We have a terrace."


async def test_a_new_exclamation_before_the_same_reply_is_a_repeat() -> None:
    before = "Il dimeore! Your evening will be filled with the best of Italy."
    llm = ScriptedLlm([["Il mondo! Your evening will be filled with the best of Italy."], ["At what time?"]])
    text, _ = await said(llm, conversation("Friday.", before, "Around seven."))
    assert text == "At what time?"


async def test_a_short_common_opener_may_start_every_reply() -> None:
    llm = ScriptedLlm([["Sure. The table is booked."]])
    text, _ = await said(llm, conversation("Book a table.", "Sure. For how many?", "Four."))
    assert text == "Sure. The table is booked."


async def test_restating_the_question_on_the_way_to_an_answer_is_no_echo() -> None:
    llm = ScriptedLlm([["The boiling point of water is 100 degrees."]])
    text, _ = await said(llm, conversation("What is the boiling point of water?"))
    assert text == "The boiling point of water is 100 degrees."


async def test_a_short_opener_followed_by_the_same_reply_is_a_repeat() -> None:
    llm = ScriptedLlm([["Bene! Welcome to Luigi's. Anything else?"], ["Bene! What time suits you?"]])
    text, _ = await said(llm, conversation("Hi.", "Bene! Welcome to Luigi's.", "Four people."))
    assert text == "Bene! What time suits you?"


async def test_a_short_reply_said_before_is_a_repeat_too() -> None:
    llm = ScriptedLlm([["Bene!"], ["Four it is."]])
    text, _ = await said(llm, conversation("Hi.", "Bene!", "Four people."))
    assert text == "Four it is."


async def test_empty_replies_end_in_a_fallback_that_differs_from_the_last_reply() -> None:
    llm = ScriptedLlm([[" "], [""], ["..."]])
    text, _ = await said(llm, conversation("Hi.", FALLBACKS[0], "Hello?"))
    assert text == FALLBACKS[1]
    assert len(llm.requests) == 3


async def test_function_calls_pass_at_once() -> None:
    call = ToolCall("call_1", "get_weather", '{"location": "Paris"}')
    llm = ScriptedLlm([[call]])
    _, events = await said(llm, conversation("Weather in Paris?"))
    assert events == [call]


class SteerableLlm(ScriptedLlm):
    """A scripted model that records what a retry was asked to avoid."""

    def __init__(self, scripts: list[list[str | ToolCall]]) -> None:
        super().__init__(scripts)
        self.avoided: list[list[str]] = []

    def stream_again(
        self,
        messages: Sequence[ChatMessage],
        *,
        avoid: Sequence[str],
        attempt: int,
        tools: Sequence[ToolSpec] = (),
        model: str | None = None,
    ) -> AsyncGenerator[LlmEvent, None]:
        self.avoided.append(list(avoid))
        assert attempt == len(avoid)
        return self.stream(messages, tools=tools, model=model)


async def test_a_steerable_model_is_told_which_openings_to_avoid() -> None:
    llm = SteerableLlm([["A table for four people."], ["Table for four people, yes."], ["At what time?"]])
    assert isinstance(llm, Resampling)
    text, _ = await said(llm, conversation("A table for four people."))
    assert text == "At what time?"
    assert llm.avoided == [
        ["A table for four people."],
        ["A table for four people.", "Table for four people, yes."],
    ]
