"""English text normalisation: a transcript as the words a pronouncing dictionary spells.

Numbers become words (cardinals and ordinals), symbols their names (``#`` -> "pound"), initials
and dotted names are spelled out, and bracketed stage directions are dropped; the pocketsphinx
aligner (:mod:`avgen.data.speech.sphinx`) looks the words up in CMUdict.
"""

from __future__ import annotations

import re

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_SYMBOL_WORDS = {
    "#": "pound",
    "*": "star",
    "&": "and",
    "%": "percent",
    "@": "at",
    "+": "plus",
    "=": "equals",
    "$": "dollar",
}


def number_to_words(n: int) -> str:
    """English cardinal: ``123 -> "one hundred twenty three"``."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return (
                number_to_words(head)
                + " "
                + name
                + ("" if rest == 0 else " " + number_to_words(rest))
            )
    raise AssertionError("unreachable")


def ordinal_to_words(n: int) -> str:
    """English ordinal: ``21 -> "twenty first"``."""
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def normalize_english(text: str) -> list[str]:
    """Words of an English transcript as a pronouncing dictionary spells them.

    Drops bracketed stage directions (``[beep]``, ``(pause)``, ``<tone>``), spells numbers
    (``3`` -> three, ``21st`` -> twenty first, ``3D`` -> three d), symbols (``#`` -> pound),
    initials (``A.M.`` -> a m) and dotted names (``www.x.org`` -> w w w dot x dot org);
    keeps apostrophes inside words.
    """
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>", " ", text)
    text = re.sub(
        r"(\d+)(st|nd|rd|th)\b",
        lambda m: " " + ordinal_to_words(int(m[1])) + " ",
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(r"\d+", lambda m: " " + number_to_words(int(m[0])) + " ", text)
    text = re.sub(r"\b(?:[A-Za-z]\.){2,}", lambda m: " " + " ".join(m[0].split(".")) + " ", text)
    text = re.sub(r"(?<=\w)\.(?=\w)", " dot ", text)
    for sym, word in _SYMBOL_WORDS.items():
        text = text.replace(sym, f" {word} ")
    words = []
    for token in re.split(r"[^\w']+", text.lower()):
        token = token.strip("'_")
        if token == "www":
            words += ["w", "w", "w"]
        elif token:
            words.append(token)
    return words
