"""The quota's floor on a run's time, and the progress bar's line."""

from __future__ import annotations

import pytest

from provisioning.core.pace import format_duration, minimum_duration, progress_line, quota_note


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (44.2, "45 s"), (200, "3 min 20 s"), (7500, "2 h 05 min")],
)
def test_durations_read_as_an_admin_would_say_them(seconds, text):
    assert format_duration(seconds) == text


def test_a_hundred_thousand_users_at_one_and_a_half_writes_take_at_least_two_hours_five():
    """The issue's sum: 150,000 writes at 3,000 per 150 s need 7,500 s."""
    assert minimum_duration(150_000) == 7500
    assert quota_note(150_000).endswith("they need at least 2 h 05 min")
    assert quota_note(1).startswith("1 write to make")


def test_the_progress_line_shows_rows_writes_per_second_and_time_left():
    line = progress_line(500, 2000, writes=900, elapsed_s=50.0, width=10)

    assert line == "[##........] 500/2,000 rows  18.0 writes/s  about 2 min 30 s left"


def test_the_progress_line_says_nothing_of_pace_before_a_row_is_done_and_the_time_taken_at_the_end():
    assert progress_line(0, 100, writes=0, elapsed_s=0.0, width=4) == "[....] 0/100 rows"
    assert progress_line(100, 100, writes=150, elapsed_s=10.0, width=4) == (
        "[####] 100/100 rows  15.0 writes/s  done in 10 s"
    )
