"""What a citizen sees of a case's photos: the public copies of the work done, nothing else."""

from wangge.cases.public import public_photos

ID = "0123456789abcdef0123456789abcdef"


def test_the_work_done_shows_the_public_copy_of_its_photos():
    for action in ("feed_back", "check_pass", "self_handle"):
        assert public_photos(action, [f"/api/v1/uploads/{ID}"]) == [f"/api/v1/uploads/{ID}/public"]


def test_the_report_and_other_steps_show_no_photo_and_foreign_links_are_dropped():
    assert public_photos("report", [f"/api/v1/uploads/{ID}"]) == []
    assert public_photos("verify_true", [f"/api/v1/uploads/{ID}"]) == []
    assert public_photos("feed_back", ["https://example.com/a.jpg", ""]) == []
    assert public_photos("feed_back", None) == []
