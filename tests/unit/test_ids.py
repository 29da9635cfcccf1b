"""``uuid7``: RFC 9562 version 7 ids, ordered by their millisecond, still unguessable."""

from __future__ import annotations

import time
import uuid

from vellet.common.ids import uuid7


def test_an_id_is_an_rfc_9562_version_7_uuid_of_now() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000

    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after
    assert uuid.UUID(str(made)) == made  # the text form round-trips (API, streams)


def test_ids_of_later_milliseconds_sort_after_earlier_ones() -> None:
    first = uuid7()
    time.sleep(0.002)
    later = [uuid7() for _ in range(100)]

    assert all(first < other for other in later)


def test_ids_of_one_millisecond_differ_in_their_random_bits() -> None:
    made = {uuid7() for _ in range(10_000)}

    assert len(made) == 10_000
    # 74 random bits: the low 62 alone take many values within a millisecond.
    assert len({m.int & ((1 << 62) - 1) for m in made}) == 10_000
