"""Keep a small model from echoing the caller, repeating itself, or saying nothing.

SmolLM2-135M, the default model, sometimes answers a short statement with the statement itself
("Establish justice." -> "Establish justice.") and, once it has refused something, gives the same refusal
turn after turn. The guard sits between the model and the sentence splitter:

* It holds the reply's deltas until the first piece is complete (as `SentenceSplitter` cuts it, the piece
  TTS starts on) and judges it: an echo of the caller (`is_echo`), the first piece of one of the last
  three replies said again, or nothing at all is rejected before a word of it is spoken. An accepted
  piece is released delta for delta the moment it is complete, so the splitter downstream cuts at the
  same delta it would have cut at without the guard and the first audio is not delayed (the judgement
  takes microseconds); an empty delta announces the model's first token so the turn metrics keep its time.
* A rejected opening closes the model's stream (generation stops) and the model is asked again. An engine
  that can vary its sampling (`Resampling`, the local llama.cpp model) gets the rejected openings to avoid;
  any other is asked the same again (a remote model samples anew). After `ATTEMPTS` rejected openings a
  short neutral question is spoken instead (`FALLBACKS`), never the same one twice in a row.
* The model reads the history without earlier echoes and repeats (`fresh_history`): a pattern it sees in
  the conversation is one it continues. The choice depends only on the messages, so the prompt's prefix
  stays the same from turn to turn and llama.cpp's KV cache still reuses it.

Measured on the 33 scripted turns of `bench replies` (see `llm_llamacpp` for the sampling). Through the
real server, before the guard (temperature 0.2): no echo by the 80% rule and no empty reply, but 48% of the
replies repeated the previous one word for word ("Sorry, I'm sorry. I'm sorry. Please try again later."
seven times in a row), keyword relevance 12%. With the guard and the new sampling: 0% echo, 0% repeat, 0%
empty, relevance 36%, one fallback in 33 turns. Fed as text to SmolLM2, the guard rejected 14 openings
in 33 turns (11 repeats, 3 in French) and spoke 1 fallback (8-11 and 0-1 over three seeds before short
first pieces waited for the next one). A
rejection costs the rejected piece plus a new one (on a loaded 2-core box the first piece came a median
1.0-1.5 s after the prompt without a rejection and 2.1-2.8 s with one); the llama.cpp prompt is unchanged,
so its KV cache is reused and no prompt is read again.

Only the opening is judged: holding more would delay the first audio by the time the model takes to
write it (a 12-word piece is about 0.1 s at 110 tokens/s, a whole reply 0.3-0.9 s). The opening is the
first piece, or, when that piece has fewer than `REPEATED_WORDS` words and there are earlier replies to
compare with, the first pieces up to that many words: the model's stuck replies vary a short exclamation
in front of the same text ("Il mondo! Your evening will be filled ..."), and waiting for the next piece
costs its few tokens only in those turns. Later sentences pass as they come.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Final, Protocol, runtime_checkable

from voicewire.engines.base import ChatMessage, LanguageModel, LlmEvent, TextDelta, ToolSpec
from voicewire.server.sentences import SentenceSplitter

logger = logging.getLogger(__name__)

#: A reply this share of whose words are the caller's words, in the caller's order, is an echo.
ECHO_SHARE: Final = 0.8
#: An opening this long that starts like one of the `RECENT_REPLIES` last replies is a repeat ("Sure." may
#: start every reply; "Sure, I can help." may not).
REPEATED_WORDS: Final = 3
RECENT_REPLIES: Final = 3
#: An opening whose words match a recent reply's first words this well (difflib ratio) is "nearly the same":
#: one word in five may differ ("I'm sorry for the/any inconvenience you're facing").
REPEAT_SIMILARITY: Final = 0.8
#: Openings the model may write for one reply before the fallback is spoken.
ATTEMPTS: Final = 3
#: What is said when every attempt was rejected: a neutral request that keeps the caller talking.
FALLBACKS: Final = (
    "Could you tell me a little more about that?",
    "Sorry, could you say that another way?",
    "I want to get this right. What exactly do you need?",
)

#: Common English words. A piece of `FOREIGN_WORDS` or more words with none of them, answering a user who
#: used some, is in another language: SmolLM2 drifts into French or Italian ("La femme fleur est un
#: débat.") and, fed its own reply back, stays there for the rest of the conversation.
_ENGLISH: Final = frozenset(
    """a an the is are was were be been am do does did to of and or but in on at for with from by about as
    it its this that these those there here i me my you your we our us he she they them his her their what
    how which who when where why can could will would should shall may might must have has had not no yes
    please thank thanks sorry hello hi okay ok sure just so if all any some more very one two let i'm you're
    it's that's we're i'll we'll can't don't""".split()  # noqa: SIM905 - a word list reads better as text
)
FOREIGN_WORDS: Final = 3
#: Articles and particles of French, Spanish and Italian that English replies hardly use. A reply with more of
#: them than English words (the article "a", which those languages share, not counted) is in another
#: language too: stuck, SmolLM2 answered a booking turn after turn with "Alec, a la fama." and "Allezo, a la
#: fama.", which the English "a" let through.
_ROMANCE: Final = frozenset(
    "la le les el los las lo de del des du au et est un une il di che con una y que es".split()  # noqa: SIM905
)

_WORD: Final = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


@runtime_checkable
class Resampling(Protocol):
    """A model that can write a reply again while steering away from openings already rejected."""

    def stream_again(
        self,
        messages: Sequence[ChatMessage],
        *,
        avoid: Sequence[str],
        attempt: int,
        tools: Sequence[ToolSpec] = (),
        model: str | None = None,
    ) -> AsyncGenerator[LlmEvent, None]: ...


def words(text: str) -> list[str]:
    """Normalised words: lower case, straight apostrophes, letters and digits only."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def echo_share(reply: str, user: str) -> float:
    """The share of the reply's words that repeat the user's, in the user's order (difflib's matching
    blocks of the two word lists); 0 for an empty reply."""
    said, heard = words(reply), words(user)
    if not said:
        return 0.0
    matcher = difflib.SequenceMatcher(None, heard, said, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(said)


def is_echo(reply: str, user: str) -> bool:
    """Whether at least `ECHO_SHARE` of the reply's normalised words are the user's words, in order."""
    return echo_share(reply, user) >= ECHO_SHARE


def is_foreign(reply: str, user: str) -> bool:
    """Whether the reply is in another language than the user's English (see `_ENGLISH` and `_ROMANCE`)."""
    said = words(reply)
    if len(said) < FOREIGN_WORDS or _ENGLISH.isdisjoint(words(user)):
        return False
    english = sum(word in _ENGLISH for word in said)
    romance = sum(word in _ROMANCE for word in said)
    return english == 0 or romance > english - said.count("a")


def is_repeat(reply: str, previous: str) -> bool:
    """Whether the reply's normalised words are exactly those of the previous reply (and not empty)."""
    said = words(reply)
    return bool(said) and said == words(previous)


def said_last(messages: Sequence[ChatMessage], role: str, count: int = 1) -> list[str]:
    """The latest `count` non-empty texts of `role` in the conversation, latest first."""
    texts = [m.content for m in reversed(messages) if m.role == role and m.content.strip()]
    return texts[:count]


def last_said(messages: Sequence[ChatMessage], role: str) -> str:
    """The latest non-empty text of `role` in the conversation."""
    return next(iter(said_last(messages, role)), "")


def fresh_history(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The conversation without assistant texts that echo the user message before them, say an earlier
    assistant text again or are in another language than the user's (`is_foreign`): fed back, they teach the
    model that such replies are how this conversation goes. Tool calls and their results always stay."""
    kept: list[ChatMessage] = []
    said: set[tuple[str, ...]] = set()
    user = ""
    for message in messages:
        if message.role == "user":
            user = message.content
        elif message.role == "assistant" and not message.tool_calls:
            key = tuple(words(message.content))
            if key in said or is_echo(message.content, user) or is_foreign(message.content, user):
                logger.debug(
                    "left out of the prompt, an echo, a repeat or another language: %r", message.content[:80]
                )
                continue
            said.add(key)
        kept.append(message)
    return kept


#: The verdict on an opening that starts like a recent reply but is too short to call a repeat yet.
UNDECIDED: Final = "undecided"


def problem(opening: str, user: str, recent: Sequence[str], *, complete: bool = False) -> str | None:
    """Why a reply's opening (its first complete pieces) must not be spoken: "empty", "echo" (a sentence of
    the user's words), "foreign" (`is_foreign`) or "repeat" (an opening of `REPEATED_WORDS` or more words
    nearly the same as the start of one of the `recent` replies, or a short reply that is all of one);
    `UNDECIDED` while an opening is too short to compare ("Il mondo!" may go on "Your evening will be
    filled ..." like the last reply, which began "Il dimeore!"), or an echo stops short of a sentence end,
    and the next piece decides; None if it may be spoken."""
    said = words(opening)
    if not said:
        return "empty"
    if is_echo(opening, user):
        # "The boiling point of water | is 100 degrees": a piece cut inside a sentence may restate the
        # question on the way to answering it; the sentence's end decides.
        return "echo" if complete or opening.rstrip("\"')\u201d\u2019 ")[-1:] in ".!?" else UNDECIDED
    if is_foreign(opening, user):
        return "foreign"
    earlier_replies = [words(text) for text in recent]
    if len(said) >= REPEATED_WORDS:
        alike = (_similarity(said, earlier[: len(said)]) for earlier in earlier_replies)
        return "repeat" if any(score >= REPEAT_SIMILARITY for score in alike) else None
    if complete:
        return "repeat" if said in earlier_replies else None
    return UNDECIDED if earlier_replies else None


def _similarity(said: list[str], earlier: list[str]) -> float:
    return difflib.SequenceMatcher(None, said, earlier, autojunk=False).ratio()


def fallback(previous: str) -> str:
    """The first fallback phrase that is not the previous reply."""
    return next((text for text in FALLBACKS if not is_repeat(text, previous)), FALLBACKS[0])


def _attempt(
    llm: LanguageModel,
    messages: Sequence[ChatMessage],
    avoid: Sequence[str],
    *,
    tools: Sequence[ToolSpec],
    model: str | None,
) -> AsyncGenerator[LlmEvent, None]:
    if avoid and isinstance(llm, Resampling):
        return llm.stream_again(messages, avoid=avoid, attempt=len(avoid), tools=tools, model=model)
    return llm.stream(messages, tools=tools, model=model)


async def guard_reply(
    llm: LanguageModel,
    messages: Sequence[ChatMessage],
    *,
    tools: Sequence[ToolSpec] = (),
    model: str | None = None,
) -> AsyncGenerator[LlmEvent, None]:
    """`llm.stream(messages, ...)`, except that an opening that echoes, repeats or is empty is never
    yielded: the model writes it again, up to `ATTEMPTS` times, and then a fallback phrase is yielded.

    The model's first token is announced at once by an empty delta, so the caller's "first token" time
    stays the model's and not the guard's."""
    user = last_said(messages, "user")
    recent = said_last(messages, "assistant", RECENT_REPLIES)
    prompt = fresh_history(messages)
    rejected: list[str] = []
    announced = False
    while len(rejected) < ATTEMPTS:
        held: list[LlmEvent] = []
        pieces: list[str] = []
        splitter = SentenceSplitter()
        opening = ""
        async with aclosing(_attempt(llm, prompt, rejected, tools=tools, model=model)) as stream:
            async for event in stream:
                if opening:
                    yield event
                    continue
                held.append(event)
                if isinstance(event, TextDelta):
                    if not announced:
                        announced = True
                        yield TextDelta("")
                    pieces.extend(splitter.push(event.text))
                    if not pieces:
                        continue
                    verdict = problem(" ".join(pieces), user, recent)
                    if verdict == UNDECIDED:
                        continue
                    if verdict is not None:
                        break
                    opening = " ".join(pieces)
                else:
                    opening = "(a function call)"
                for kept in held:
                    yield kept
            else:
                if opening:
                    return
                pieces.extend(splitter.flush())
                if problem(" ".join(pieces), user, recent, complete=True) is None:
                    for kept in held:
                        yield kept
                    return
        opening = " ".join(pieces)
        logger.info("reply opening rejected (%s): %r", problem(opening, user, recent), opening[:80])
        rejected.append(opening)
    logger.info("every opening was rejected; saying a fallback")
    yield TextDelta(fallback(last_said(messages, "assistant")))
