from __future__ import annotations

import itertools

from voicewire.engines.context_window import window_start


def test_a_conversation_that_fits_is_read_whole() -> None:
    assert window_start([100, 50, 50], ["user", "assistant", "user"], budget=200) == 0


def test_an_overflowing_conversation_keeps_recent_messages_within_budget_from_a_user_turn() -> None:
    lengths = [60, 40] * 10
    roles = ["user", "assistant"] * 10
    start = window_start(lengths, roles, budget=300)
    assert 0 < start < len(lengths)
    assert sum(lengths[start:]) <= 300
    assert roles[start] == "user"


def test_the_window_moves_in_steps_of_half_the_budget_not_every_turn() -> None:
    lengths: list[int] = []
    roles: list[str] = []
    starts = []
    for _ in range(60):
        lengths += [20, 30]
        roles += ["user", "assistant"]
        start = window_start(lengths, roles, budget=400)
        assert sum(lengths[start:]) <= 400
        starts.append(start)
    moves = sum(1 for before, after in itertools.pairwise(starts) if after != before)
    # 3,000 tokens through a 400-token window in 200-token steps: about 14 moves, not 52.
    assert 10 <= moves <= 15


def test_the_window_starts_at_a_user_turn_rather_than_inside_a_function_exchange() -> None:
    lengths = [100, 20, 20, 20, 40]
    roles = ["user", "assistant", "tool", "assistant", "user"]
    assert window_start(lengths, roles, budget=160) == 4  # not 1, 2 or 3: the exchange goes as a whole


def test_without_a_late_enough_user_turn_the_window_still_fits() -> None:
    lengths = [100, 100, 10, 10]
    roles = ["user", "assistant", "tool", "assistant"]
    start = window_start(lengths, roles, budget=100)
    assert start == 2 and sum(lengths[start:]) <= 100


def test_the_last_message_is_kept_even_alone_over_budget() -> None:
    assert window_start([10, 500], ["user", "user"], budget=100) == 1
    assert window_start([500], ["user"], budget=100) == 0
