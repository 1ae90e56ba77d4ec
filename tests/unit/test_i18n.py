"""The English catalogue covers every text the pages mark for translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from wangge.web import i18n

WEB = Path(i18n.__file__).parent
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]


def _extracted() -> dict[str, str]:
    found = {}
    for filename, lineno, message, _, _ in extract_from_dir(
        str(WEB), METHODS, keywords={"t": None, "N_": None}
    ):
        if isinstance(message, str) and message:
            found[message] = f"{filename}:{lineno}"
    return found


def test_every_marked_text_of_the_pages_has_english_in_the_catalogue():
    found = _extracted()
    assert len(found) > 200  # the templates' t('…') calls are really seen
    missing = {m: where for m, where in found.items() if m not in i18n.EN}
    assert missing == {}, f"add these to {i18n.catalogue_path('en')}: {missing}"


def test_the_translator_uses_the_compiled_catalogue_and_keeps_chinese_by_default():
    en, zh = i18n.translator("en"), i18n.translator("zh")
    assert en("地图") == "Map" and zh("地图") == "地图"
    assert en("共 %(n)s 条") % {"n": 7} == "7 in all"
    assert en("一句还没有译文的话") == "一句还没有译文的话"  # shows the Chinese, not a key
    assert i18n.translator("fr")("地图") == "地图"
