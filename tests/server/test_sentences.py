"""Splitting a streamed reply into pieces for TTS."""

from __future__ import annotations

import pytest

from voicewire.engines._text import MAX_PIECE_CHARS, MAX_PIECE_WORDS
from voicewire.server.sentences import FIRST_PIECE_MAX_WORDS, SentenceSplitter


def split(text: str, step: int = 1) -> list[str]:
    """Feed `text` in deltas of `step` characters, as an LLM would stream it."""
    splitter = SentenceSplitter()
    pieces: list[str] = []
    for start in range(0, len(text), step):
        pieces += splitter.push(text[start : start + step])
    return pieces + splitter.flush()


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_sentences_are_cut_at_terminal_punctuation(step: int) -> None:
    assert split("Hello there. How are you? Great!", step) == ["Hello there.", "How are you?", "Great!"]


def test_the_first_piece_is_cut_at_a_clause_after_four_words() -> None:
    text = "Sure, I can help you, of course. It takes a minute, maybe two."
    assert split(text) == ["Sure, I can help you,", "of course.", "It takes a minute, maybe two."]


@pytest.mark.parametrize("step", [1, 4, 1000])
def test_a_first_sentence_without_a_comma_is_cut_before_a_clause_starter(step: int) -> None:
    text = "Promote the general welfare and secure the blessings of liberty. Next."
    assert split(text, step) == [
        "Promote the general welfare",
        "and secure the blessings of liberty.",
        "Next.",
    ]


def test_a_first_sentence_without_any_break_is_cut_after_the_word_cap() -> None:
    words = [f"w{index}" for index in range(16)]
    cap = FIRST_PIECE_MAX_WORDS
    assert split(" ".join(words) + ".") == [" ".join(words[:cap]), " ".join(words[cap:]) + "."]


def test_only_the_first_piece_is_cut_at_words() -> None:
    later = "This plan and that plan both include unlimited data and free calls."
    assert split(f"Hello there. {later}") == ["Hello there.", later]


def test_a_short_first_clause_is_not_cut() -> None:
    assert split("Yes, sure. Okay.") == ["Yes, sure.", "Okay."]


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Smith paid 3.50 dollars today.",
        "Dr. Jones met Mrs. Brown at St. Mary's.",
        "It costs $3.5 million e.g. for the U.S. market.",
        "J. R. R. Tolkien wrote it.",
        "Pi is 3.14159 or so.",
    ],
)
def test_abbreviations_and_numbers_do_not_end_a_sentence(text: str) -> None:
    assert split(f"Sure. {text}") == ["Sure.", text]  # a later sentence: only the first is cut at words


def test_a_period_waits_for_the_next_delta_before_cutting() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("It is 3.") == []
    assert splitter.push("5 degrees. Cold") == ["It is 3.5 degrees."]
    assert splitter.flush() == ["Cold"]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert split('He said "stop." Then he left.') == ['He said "stop."', "Then he left."]


def test_newlines_cut_list_items() -> None:
    assert split("Options:\n- tea\n- coffee") == ["Options:", "- tea", "- coffee"]


def test_long_later_sentences_are_cut_at_a_clause() -> None:
    long = " ".join(["word"] * 21)
    assert split(f"Short one. {long}, and the rest.") == ["Short one.", f"{long},", "and the rest."]


def test_empty_and_whitespace_produce_nothing() -> None:
    assert split("") == []
    assert split("   \n  ") == []


@pytest.mark.parametrize("step", [1, 7, 100_000])
def test_long_unpunctuated_text_reaches_tts_in_bounded_pieces(step: int) -> None:
    words = [f"word{index}" for index in range(2000)]
    pieces = split(" ".join(words), step)
    assert all(len(piece) <= MAX_PIECE_CHARS and len(piece.split()) <= MAX_PIECE_WORDS for piece in pieces)
    assert " ".join(pieces).split() == words


def test_a_word_longer_than_a_piece_is_cut_inside() -> None:
    pieces = split("x" * 1000 + " end.", 1000)
    assert all(len(piece) <= MAX_PIECE_CHARS for piece in pieces)
    assert "".join(pieces) == "x" * 1000 + "end."
