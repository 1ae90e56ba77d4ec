"""The 代办 request code residents read out: Beijing's date of the request, its number."""

from datetime import UTC, datetime

from wangge.resident_services.codes import request_code


def test_a_request_made_at_seven_in_the_morning_beijing_carries_that_day():
    # 23:00 UTC on 3 December is 07:00 on 4 December in Beijing
    assert request_code(datetime(2026, 12, 3, 23, 0, tzinfo=UTC), 42) == "DB2026120400042"


def test_the_number_is_the_request_id_padded_to_five_digits_and_never_cut():
    at = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    assert request_code(at, 7) == "DB2026120400007"
    assert request_code(at, 1234567) == "DB202612041234567"
