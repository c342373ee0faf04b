"""Pages and console lines in English or Chinese, from one gettext catalogue.

English is the message ids themselves; Chinese is ``hypebt/locale/zh/LC_MESSAGES/hypebt.po``, a
standard gettext catalogue read at run time with Babel (so there is no compiled ``.mo`` to drift
from it). The language of a command is :func:`resolve_lang`: ``--lang zh|en``, else the spec's
``lang``, else ``$HYPEBT_LANG``, else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``zh_*``
is Chinese), else English.

Marking a text for translation:

- in a template: ``{{ _("Trades") }}``, with arguments ``{{ _("%(n)s sessions", n=n) }}``; the
  result is plain text, escaped like any other value;
- in a page builder that knows its language: ``_ = i18n.translator(lang)`` then ``_("Trades")``;
- where the language is not known yet (a note the engine writes, a refusal reason, a warning):
  ``N_("start %(start)s is before the store's first bar", start=...)`` returns the English text (a
  ``str``: it prints, joins and goes into JSON as before) that remembers its message and arguments,
  so a page or console line later shows it with :func:`translate` in the reader's language.

Adding or changing a message (the test ``tests/test_i18n.py`` fails until the catalogue has it)::

    python -m hypebt.core.i18n        # adds new messages to hypebt.po (empty), lists the stale ones
    # then write each new msgstr in hypebt.po (Chinese); remove the entries listed as stale

Keep numbers out of messages (pass them formatted, as arguments), so both languages show the same
figures; gains red, losses green is the pages' CSS, not a text.
"""

from __future__ import annotations

import contextlib
import io
import locale
import os
import re
from functools import lru_cache
from pathlib import Path

from hypebt.core.errors import InputError

LANGS = ("en", "zh")
DOMAIN = "hypebt"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
CATALOGUE = LOCALE_DIR / "zh" / "LC_MESSAGES" / f"{DOMAIN}.po"
HTML_LANG = {"en": "en", "zh": "zh-CN"}
# Message ids looked up in a language whose catalogue lacks them (tests read it: it must stay empty).
MISSING: set[tuple[str, str]] = set()


def resolve_lang(flag: str | None = None, spec_lang: str | None = None, where: str = "") -> str:
    """The language of a command's pages and console lines (see the module docstring).

    >>> resolve_lang("zh"), resolve_lang(None, "en")
    ('zh', 'en')
    """
    for value, what in ((flag, "--lang"), (spec_lang, f"{where}: lang" if where else "lang"),
                        (os.environ.get("HYPEBT_LANG") or None, "HYPEBT_LANG")):
        if value is not None:
            return check_lang(value, what)
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    try:
        current = locale.getlocale(locale.LC_MESSAGES)[0] or ""
    except (ValueError, AttributeError):
        current = ""
    return "zh" if current.lower().startswith("zh") else "en"


def check_lang(value, what: str = "lang") -> str:
    """``value`` as a language code, or an error naming ``what`` and the choices."""
    text = str(value).strip().lower().replace("_", "-")
    if text in ("zh-cn", "zh-hans", "cn", "chinese"):
        text = "zh"
    if text in ("english", "en-us", "en-gb"):
        text = "en"
    if text not in LANGS:
        raise InputError(f"{what} = {value!r}: the pages speak {' or '.join(LANGS)}; write lang = \"zh\" or \"en\"")
    return text


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation of ``lang`` (empty for English, whose texts are the msgids); fuzzy and
    empty entries are left out (they show in English)."""
    if lang == "en":
        return {}
    from babel.messages.pofile import read_po

    with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as fh:
        cat = read_po(fh, locale=lang, domain=DOMAIN)
    return {m.id: m.string for m in cat if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def gettext(lang: str, msgid: str) -> str:
    """``msgid`` in ``lang`` (the msgid itself when the catalogue lacks it, and noted in :data:`MISSING`)."""
    if lang == "en":
        return msgid
    found = catalogue(lang).get(msgid)
    if found is None:
        MISSING.add((lang, msgid))
        return msgid
    return found


def _format(text: str, args: dict) -> str:
    return text % args if args else text


def translator(lang: str):
    """``_(msgid, **args)`` for ``lang``: the translated text with ``%(name)s`` arguments filled in
    (an argument that is itself a marked message is translated too)."""
    def _(msgid: str, **args) -> str:
        return _format(gettext(lang, msgid), {k: translate(v, lang) for k, v in args.items()})

    _.lang = lang
    return _


class Msg(str):
    """English text that remembers its message id and arguments (made by :func:`N_`)."""

    def __new__(cls, msgid: str, args: dict | None = None):
        args = dict(args or {})
        self = super().__new__(cls, _format(msgid, args))
        self.msgid, self.args = msgid, args
        return self

    def __reduce__(self):
        return (Msg, (self.msgid, self.args))

    def __deepcopy__(self, memo):
        return self  # immutable, like str


def N_(msgid: str, **args) -> Msg:
    """Mark a message whose language is chosen later: English now, :func:`translate` when shown."""
    return Msg(msgid, args)


def translate(text, lang: str):
    """``text`` in ``lang``: a :class:`Msg` is translated with its arguments; a plain string that
    is a message id of the catalogue is translated; anything else is returned unchanged."""
    if lang == "en" or not isinstance(text, str):
        return str(text) if isinstance(text, Msg) else text
    if isinstance(text, Msg):
        return translator(lang)(text.msgid, **text.args)
    found = catalogue(lang).get(text)
    return found if found is not None else _reread(text, lang)


@lru_cache(maxsize=None)
def _patterns(lang: str) -> list[tuple[str, re.Pattern, str]]:
    """(longest literal piece, regex, msgid) of every message with arguments, longest first."""
    out = []
    for msgid in catalogue(lang):
        pieces = re.split(r"%\((\w+)\)s", msgid)
        if len(pieces) < 2:
            continue
        literal = max(pieces[::2], key=len)
        if len(literal.strip()) < 4:
            continue  # too little fixed text to recognise it safely
        rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(pieces)
                     if not (i % 2 and p in pieces[1:i:2]))  # a name used twice: matched once
        try:
            out.append((literal, re.compile(f"^{rx}$", re.S), msgid))
        except re.error:
            continue
    return sorted(out, key=lambda t: -len(t[2]))


@lru_cache(maxsize=4096)
def _reread(text: str, lang: str) -> str:
    """A message that lost its arguments on the way (pandas stores a :class:`Msg` as a plain str):
    recognised by its fixed text, translated with its arguments (each translated in turn)."""
    if len(text) < 6 or not re.search(r"[A-Za-z]{3}", text):
        return text
    for literal, rx, msgid in _patterns(lang):
        if literal in text:
            m = rx.match(text)
            if m:
                return translator(lang)(msgid, **{k: translate(v, lang) for k, v in m.groupdict().items()})
    return text


# --- keeping the catalogue (python -m hypebt.core.i18n) -------------------------------------------

KEYWORDS = {"_": None, "N_": None}


def extract() -> dict[str, list[str]]:
    """Every message marked in the package (Python ``_``/``N_`` calls, templates' ``_()``) -> where."""
    from babel.messages.extract import extract_from_dir

    root = LOCALE_DIR.parent
    method_map = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**/templates/**.js", "ignore"),
                  ("**.py", "python")]
    found: dict[str, list[str]] = {}
    # Babel notes every f-string among a call's arguments (ours are formatted figures passed as
    # %(name)s values, which is right); a marked f-string itself is caught by tests/test_i18n.py.
    with contextlib.redirect_stderr(io.StringIO()):
        for filename, lineno, message, _comments, _context in extract_from_dir(
                str(root), method_map=method_map, keywords=KEYWORDS,
                options_map={"**/templates/**.html": {"extensions": "", "silent": "false"}}):
            if isinstance(message, str) and message:
                found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def update_catalogue(path: Path = CATALOGUE) -> tuple[list[str], list[str]]:
    """Add the marked messages that ``path`` lacks (with empty translations); return (added, stale):
    stale ones are in the catalogue but no longer marked anywhere (remove them by hand)."""
    from babel.messages.pofile import read_po, write_po

    with open(path, "rb") as fh:
        cat = read_po(fh, locale="zh", domain=DOMAIN)
    marked = extract()
    added = [m for m in marked if m not in cat]
    for m in added:
        cat.add(m, "", locations=[tuple(loc.rsplit(":", 1)) for loc in marked[m][:1]])
    stale = [m.id for m in cat if m.id and m.id not in marked]
    with open(path, "wb") as fh:
        write_po(fh, cat, width=100, omit_header=False, no_location=True, sort_output=False)
    return added, stale


if __name__ == "__main__":
    new, old = update_catalogue()
    print(f"{CATALOGUE}: {len(new)} new message(s) added, to translate" + "".join(f"\n  + {m}" for m in new))
    if old:
        print(f"{len(old)} stale message(s) (no longer in the code; remove them):" + "".join(f"\n  - {m}" for m in old))
