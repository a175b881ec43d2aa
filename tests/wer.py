"""Word error rate for tests that check what a recogniser heard (engine tests and end-to-end tests)."""

from __future__ import annotations

import re

#: Spellings that are the same spoken word, so that a recogniser is not blamed for the reference's choice.
_SAME_WORD = {"defense": "defence", "insure": "ensure"}
_CONTRACTIONS = {"i'm": "i am", "it's": "it is", "you're": "you are", "that's": "that is", "let's": "let us"}


def normalise(text: str) -> list[str]:
    """Lower-case words without punctuation, with the spellings above unified; a hyphen separates words."""
    words: list[str] = []
    for raw in text.lower().replace("\u2019", "'").replace("-", " ").split():
        word = _CONTRACTIONS.get(raw.strip('.,;:!?"()'), raw)
        for part in word.split():
            cleaned = re.sub(r"[^a-z0-9']", "", part).strip("'")
            if cleaned:
                words.append(_SAME_WORD.get(cleaned, cleaned))
    return words


def wer(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance divided by the reference length."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1] / max(len(ref), 1)


#: What is said in tests/data/audio/preamble-*.wav (see the README there).
PREAMBLE = (
    "We, the People of the United States, in Order to form a more perfect Union, establish Justice, insure "
    "domestic Tranquility, provide for the common defence, promote the general Welfare, and secure the "
    "Blessings of Liberty to ourselves and our Posterity, do ordain and establish this Constitution for the "
    "United States of America."
)
