"""Locales and translations for the consoles and the consumer app.

Catalogs are the Babel `.po` files in `ccare/locale/<locale>/LC_MESSAGES/messages.po`, read
once per process with `read_po` and turned into `babel.support.Translations` in memory
(no `.mo` compile step). The request's locale comes from the `ccare_locale` cookie, then
the Accept-Language header, then `settings.default_locale`.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_COOKIE = "ccare_locale"
# Shown on the switch link, in their own language.
LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, at render time."""
    return message


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


@cache
def translations(locale: str) -> Translations:
    """The catalog of `locale`; an unknown or missing catalog yields the msgids."""
    path = catalog_path(locale)
    if locale not in LOCALES or not path.exists():
        return Translations()
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


def load_all() -> None:
    for locale in LOCALES:
        translations(locale)


def normalize(code: str | None) -> str | None:
    """'zh-cn', 'zh_Hans_CN', 'en-US' -> a supported locale, or None."""
    if not code:
        return None
    code = code.strip().replace("-", "_")
    if code in LOCALES:
        return code
    try:
        parsed = Locale.parse(code)
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    if parsed.language == "zh":
        return "zh_CN"
    return parsed.language if parsed.language in LOCALES else None


def from_accept_language(header: str) -> str | None:
    """Best supported locale from an Accept-Language header (q-values respected)."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            choices.append((-quality, index, tag))
    for _q, _i, tag in sorted(choices):
        locale = normalize(tag)
        if locale:
            return locale
    return None


def request_locale(request: Request) -> str:
    cached: str | None = getattr(request.state, "locale", None)
    if cached:
        return cached
    locale = normalize(request.cookies.get(LOCALE_COOKIE))
    if locale is None:
        locale = from_accept_language(request.headers.get("accept-language", ""))
    if locale is None:
        platform = getattr(request.app.state, "platform", None)
        configured = platform.settings.default_locale if platform else DEFAULT_LOCALE
        locale = normalize(configured) or DEFAULT_LOCALE
    request.state.locale = locale
    return locale


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def ngettext(locale: str, singular: str, plural: str, n: int) -> str:
    return translations(locale).ngettext(singular, plural, n)


# ---------------------------------------------------------------- catalog maintenance

PACKAGE_DIR = LOCALE_DIR.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHOD_MAP = [
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    # Every module: page texts live in consoles and in the modules they share.
    ("**.py", "python"),
]
EXTRACT_OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}


def extract() -> Catalog:
    """Every translatable message of the templates and pages, as a Babel catalog."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="ccare", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE_DIR), METHOD_MAP, EXTRACT_OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def update_catalogs() -> dict[str, int]:
    """Merge newly extracted messages into each `.po` file; returns untranslated counts."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    template = extract()
    untranslated = {}
    for locale in LOCALES:
        path = catalog_path(locale)
        if path.exists():
            with path.open("rb") as fp:
                catalog = read_po(fp, locale=locale)
        else:
            catalog = Catalog(locale=locale, project="ccare", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        catalog.header_comment = (
            f"# {LOCALE_NAMES.get(locale, locale)} ({locale}) texts of ccare's consoles and app.\n"
            "# Refresh after changing texts: python -m ccare.web.i18n"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fp:
            write_po(fp, catalog, width=100, omit_header=False, sort_output=False)
        untranslated[locale] = sum(1 for m in catalog if m.id and not m.string)
    translations.cache_clear()
    return untranslated


if __name__ == "__main__":  # python -m ccare.web.i18n: refresh the catalogs after editing texts
    for code, missing in update_catalogs().items():
        print(f"{code}: {missing} untranslated")
