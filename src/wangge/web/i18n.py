"""Chinese by default, English switchable (cookie `wangge_lang`), from gettext catalogues.

The msgids are the Chinese texts themselves (the pages are written in Chinese), so a text with
no English yet shows in Chinese rather than as a key. The English catalogue is
`locale/en/LC_MESSAGES/messages.po` (edit it with any PO editor). `make i18n` extracts
`locale/messages.pot` from the templates (`t('…')`) and from Python labels marked `N_('…')`;
`tests/unit/test_i18n.py` fails when an extracted text has no English. Babel compiles the .po
in memory when the module loads, so there is no .mo build step to forget.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGS = ("zh", "en")
LANG_COOKIE = "wangge_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def N_(text: str) -> str:  # the gettext convention for "mark now, translate when shown"
    """Mark a Python label for extraction; pages translate it with t() when shown."""
    return text


def catalogue_path(lang: str) -> Path:
    """Return the .po file of a language."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache
def translations(lang: str) -> gettext.NullTranslations:
    """Return the gettext translations of a language (Chinese: the texts themselves)."""
    path = catalogue_path(lang)
    if lang == "zh" or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


def _english() -> dict[str, str]:
    with catalogue_path("en").open("rb") as fh:
        catalog = read_po(fh, locale="en", domain=DOMAIN)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


# {Chinese: English} for code that labels JSON for the pages (e.g. map layer names)
EN: dict[str, str] = _english()


def pick_language(cookie: str | None, query: str | None, default: str = "zh") -> str:
    """Return the page language: ?lang= first, then the cookie, then the default."""
    for cand in (query, cookie):
        if cand in LANGS:
            return cand
    return default


def translator(lang: str) -> Callable[[str], str]:
    """Return t(text) for a language: gettext with the Chinese text as the msgid."""
    return translations(lang if lang in LANGS else "zh").gettext
