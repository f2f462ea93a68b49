"""Pure rules of the feedback domain: when a customer's words count as praise for their owner.

Deliberately small and honest: a handful of English phrases, a guard against negation ("not
helpful") and sarcasm ("thanks for nothing"), and the customer's own score. No model, no network;
a miss means no kudos, never a wrong reopen."""

from __future__ import annotations

import re

GOOD_SCORE = 4  # CSAT 4 or 5 with words attached: the words are about a good experience
BAD_SCORE = 2  # CSAT 1 or 2: whatever the words say, it was not praise

_PRAISE = (
    r"thank(?:s| you)",
    r"great",
    r"excellent",
    r"helpful",
    r"amazing",
    r"wonderful",
    r"fantastic",
    r"brilliant",
    r"superb",
    r"outstanding",
    r"above and beyond",
    r"much appreciated",
    r"really appreciate",
    r"well done",
    r"lovely",
)
_PRAISE_RE = re.compile(r"\b(?:" + "|".join(_PRAISE) + r")\b", re.IGNORECASE)
# "not helpful", "wasn't great", "never thanked": a negation shortly before the phrase.
_NEGATION_RE = re.compile(r"\b(?:not|never|no|hardly|nothing|without|n't)\W+(?:\w+\W+)?$", re.IGNORECASE)
_SARCASM_RE = re.compile(r"\bthanks? (?:you )?for nothing\b|\bnot\s+at\s+all\s+helpful\b", re.IGNORECASE)
_CRITICISM = r"rude|useless|unhelpful|terrible|awful|slow|late|wrong|bad|poor|not|never|n't"


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - 24) : start].replace("n\u2019t", "n't")  # typographic apostrophe
    return bool(_NEGATION_RE.search(before.replace("n't", " n't ")))


def _names_owner(text: str, owner_first_name: str) -> bool:
    """ "<first name> was ..." not followed by a criticism ("Ada was rude" is not kudos)."""
    name = owner_first_name.strip()
    if len(name) < 2:
        return False
    pattern = rf"\b{re.escape(name)}\s+(?:was|is|has been|did)\b(?!\W+(?:\w+\W+)?(?:{_CRITICISM})\b)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def is_praise(text: str | None, *, owner_first_name: str, csat: int | None = None) -> bool:
    words = (text or "").strip()
    if not words:
        return False
    if csat is not None and csat <= BAD_SCORE:
        return False
    if csat is not None and csat >= GOOD_SCORE:
        return True
    if _SARCASM_RE.search(words):
        return False
    if _names_owner(words, owner_first_name):
        return True
    return any(not _negated(words, m.start()) for m in _PRAISE_RE.finditer(words))


def first_name(full_name: str) -> str:
    parts = full_name.split()
    return parts[0] if parts else ""


# A thank-you after the case is resolved ends the conversation; it should not reopen the case.
THANKS_MAX_CHARS = 300
_THANKS_RE = re.compile(r"\b(?:thank|thanks|thx|cheers|appreciated?|much obliged)\b", re.IGNORECASE)
# "Thanks for your help" is gratitude; "help" anywhere else may be a new request.
_FOR_THE_HELP_RE = re.compile(r"\bfor (?:all )?(?:your|the|all the) help\b|\bfor helping\b", re.IGNORECASE)
# Anything that may mean the problem is not over: a question, a problem word, a negation.
_NOT_OVER_RE = re.compile(
    r"\?|\b(?:still|again|but|however|though|problem|issue|broken|wrong|fault|faulty|missing|refund|"
    r"complain\w*|help|not|never|no|nothing|n't|cannot|can't|didn't|doesn't|won't|isn't|wasn't|"
    r"haven't|hasn't|unfortunately|yet)\b",
    re.IGNORECASE,
)


def is_only_thanks(text: str | None) -> bool:
    """A short reply that thanks and asks for nothing ("Thanks, all sorted!"). Erring towards
    "not only thanks": a missed thank-you reopens a case, a missed complaint would be lost."""
    words = (text or "").replace("\u2019", "'").strip()
    if not words or len(words) > THANKS_MAX_CHARS:
        return False
    if not _THANKS_RE.search(words):
        return False
    return not _NOT_OVER_RE.search(_FOR_THE_HELP_RE.sub(" ", words))
