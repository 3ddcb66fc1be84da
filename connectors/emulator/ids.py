"""Record ids in each CRM's own format.

Salesforce ids are 15 base-62 characters (a 3-character key prefix naming the object, a 2-character
pod, a reserved ``0`` and a 9-character sequence) plus the 3-character case-safe checksum that
the API always returns: each 5-character chunk becomes a 5-bit number with bit ``i`` set when
character ``i`` is an upper-case letter, looked up in ``A..Z0..5``.

Dataverse ids are GUIDs; the generator draws them from a seeded :class:`random.Random` and formats
them as version-4 UUIDs, so they are deterministic for a given seed.
"""

from __future__ import annotations

import random
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
SF_ID_15 = 15
SF_ID_18 = 18
_SEQUENCE_WIDTH = 9
_UPPER_BITS = str.maketrans(
    string.ascii_uppercase + string.ascii_lowercase + string.digits,
    "1" * 26 + "0" * 36,
)

# Key prefixes of the standard objects the world contains.
SF_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Product2": "01t",
    "OpportunityLineItem": "00k",
    "OpportunityContactRole": "00K",
    "Task": "00T",
    "Event": "00U",
}


def _chunk_value(chunk: str) -> int:
    # bit i is set when character i is upper case: reverse so int(..., 2) reads bit 0 last
    return int(chunk.translate(_UPPER_BITS)[::-1], 2)


def sf_checksum(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character Salesforce id."""
    if len(id15) != SF_ID_15 or any(c not in BASE62 for c in id15):
        raise ValueError(f"not a 15-character Salesforce id: {id15!r}")
    return "".join(CHECKSUM_ALPHABET[_chunk_value(id15[i : i + 5])] for i in (0, 5, 10))


def sf_to_18(record_id: str) -> str:
    """The 18-character form of a 15- or 18-character Salesforce id (checksum recomputed)."""
    if len(record_id) == SF_ID_18:
        record_id = record_id[:SF_ID_15]
    return record_id + sf_checksum(record_id)


def is_valid_sf_id(record_id: str) -> bool:
    """True for an 18-character id whose suffix matches its first 15 characters."""
    if len(record_id) != SF_ID_18:
        return False
    try:
        return sf_checksum(record_id[:SF_ID_15]) == record_id[SF_ID_15:]
    except ValueError:
        return False


def base62(number: int, width: int) -> str:
    """``number`` in base 62, left-padded with ``0`` to ``width`` characters."""
    if number < 0 or number >= 62**width:
        raise ValueError(f"{number} does not fit in {width} base-62 digits")
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits))


def _pair_table() -> list[tuple[str, int]]:
    """Every 2-digit base-62 string with its upper-case bits (bit 0 = first character)."""
    table = []
    for high in BASE62:
        for low in BASE62:
            table.append((high + low, int(high.isupper()) | int(low.isupper()) << 1))
    return table


_PAIRS = _pair_table()
_SINGLES = [(c, int(c.isupper())) for c in BASE62]
_P2 = 62 * 62


class SalesforceIds:
    """Allocates ascending 18-character ids per object, like one org does.

    ``pod`` is the 2-character instance part; ``start`` the first sequence number (the generator
    picks it from the seed so that different seeds give different ids).  :attr:`next_numbers`
    is the allocator state, kept so that later mutations continue the sequences.
    """

    def __init__(self, pod: str, start: int) -> None:
        if len(pod) != 2 or any(c not in BASE62 for c in pod):
            raise ValueError(f"pod must be 2 base-62 characters, got {pod!r}")
        self.pod = pod
        self.start = start
        self.next_numbers: dict[str, int] = {}
        self.prefixes: dict[str, str] = dict(SF_PREFIXES)
        self._heads: dict[str, tuple[str, str]] = {}
        self._middle: dict[int, tuple[str, str]] = {}
        self._stems: dict[str, tuple[int, str, str, int]] = {}

    def register(self, sobject: str, prefix: str) -> None:
        """Give another object (e.g. a custom object) its 3-character key prefix."""
        if len(prefix) != 3 or any(c not in BASE62 for c in prefix):
            raise ValueError(f"a key prefix is 3 base-62 characters, got {prefix!r}")
        if self.prefixes.get(sobject, prefix) != prefix:
            raise ValueError(f"{sobject} already has key prefix {self.prefixes[sobject]}")
        self.prefixes[sobject] = prefix

    def new(self, sobject: str) -> str:
        """The next id of ``sobject`` (KeyError for an object without a key prefix)."""
        number = self.next_numbers.get(sobject, self.start)
        self.next_numbers[sobject] = number + 1
        return self.format(sobject, number)

    def format(self, sobject: str, number: int) -> str:
        """The id with sequence ``number`` (same result as :func:`sf_to_18` of the 15 chars)."""
        block, last = divmod(number, 62)
        stem = self._stems.get(sobject)
        if stem is None or stem[0] != block:
            stem = self._stems[sobject] = self._stem(sobject, block)
        single, bit = _SINGLES[last]
        return stem[1] + single + stem[2] + CHECKSUM_ALPHABET[stem[3] | bit << 4]

    def _stem(self, sobject: str, block: int) -> tuple[int, str, str, int]:
        """What the 62 ids of ``block`` share: the first 14 characters, the first two checksum
        characters and the upper-case bits of the third checksum chunk's first four characters.
        """
        head = self._heads.get(sobject)
        if head is None:
            first = self.prefixes[sobject] + self.pod
            head = self._heads[sobject] = (first, CHECKSUM_ALPHABET[_chunk_value(first)])
        upper, lower = divmod(block, 62**4)
        middle = self._middle.get(upper)
        if middle is None:
            if upper >= 62**4:
                raise ValueError(f"sequence {block * 62} is out of range")
            text = "0" + base62(upper, 4)
            middle = self._middle[upper] = (text, CHECKSUM_ALPHABET[_chunk_value(text)])
        a, b = divmod(lower, _P2)
        pair_a, pair_b = _PAIRS[a], _PAIRS[b]
        text = head[0] + middle[0] + pair_a[0] + pair_b[0]
        return block, text, head[1] + middle[1], pair_a[1] | pair_b[1] << 2


def new_guid(rng: random.Random) -> str:
    """A version-4 GUID string drawn from ``rng`` (lower case, with dashes)."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
