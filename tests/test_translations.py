"""The French catalogue: complete, faithful to its placeholders, compiled, and served to French browsers."""

import ast
import gettext
import html
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale"
FR_PO = LOCALE / "fr" / "LC_MESSAGES" / "django.po"
FR_MO = LOCALE / "fr" / "LC_MESSAGES" / "django.mo"
EN_PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"

# %(name)s, %s, %d, %% (python-format) and {name} (python-brace-format).
PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdirf]|%[sdirf]|%%|\{[A-Za-z_0-9]*\}")
TAG = re.compile(r"</?[A-Za-z][^>]*>")


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file (blocks separated by blank lines), header first, obsolete (#~) ones left out.

    Each entry: {"flags": set, "msgctxt": str | None, "msgid": str, "msgid_plural": str | None,
    "msgstr": {index: str}}, index None for a singular msgstr, 0, 1… for plural forms."""
    entries = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        entry = {"flags": set(), "msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {}}
        field = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#") or not line.strip():
                continue
            elif line.startswith('"'):
                assert field is not None, f"{path}: {line!r} continues nothing"
                append(entry, field, ast.literal_eval(line))
            else:
                field, _, quoted = line.partition(" ")
                append(entry, field, ast.literal_eval(quoted))
        if entry["msgid"] is not None:
            entries.append(entry)
    return entries


def append(entry: dict, field: str, text: str) -> None:
    if field in ("msgctxt", "msgid", "msgid_plural"):
        entry[field] = (entry[field] or "") + text
    elif field == "msgstr":
        entry["msgstr"][None] = entry["msgstr"].get(None, "") + text
    else:
        match = re.fullmatch(r"msgstr\[(\d+)\]", field)
        assert match, f"unknown .po keyword {field!r}"
        index = int(match[1])
        entry["msgstr"][index] = entry["msgstr"].get(index, "") + text


def messages(path: Path) -> list[dict]:
    return [entry for entry in read_po(path) if entry["msgid"]]


def label(entry: dict) -> str:
    return f"{entry['msgctxt']}|{entry['msgid']}" if entry["msgctxt"] else entry["msgid"]


def test_it_reads_the_catalogue_it_checks():
    entries = messages(FR_PO)
    assert len(entries) > 500
    plural = next(e for e in entries if e["msgid"] == "%(covers)s cover")
    assert plural["msgid_plural"] == "%(covers)s covers" and set(plural["msgstr"]) == {0, 1}
    assert any(e["msgctxt"] == "sold out" and e["msgid"] == "86" for e in entries)


def test_it_has_a_french_header_with_french_plurals():
    header = read_po(FR_PO)[0]
    assert header["msgid"] == "" and "fuzzy" not in header["flags"]
    text = header["msgstr"][None]
    assert "Language: fr\n" in text and "Plural-Forms: nplurals=2; plural=(n > 1);\n" in text
    assert "charset=UTF-8" in text


def test_it_translates_every_french_message_and_leaves_none_fuzzy():
    untranslated = [label(e) for e in messages(FR_PO) if not all(s.strip() for s in e["msgstr"].values())]
    fuzzy = [label(e) for e in messages(FR_PO) if "fuzzy" in e["flags"]]
    plurals_incomplete = [label(e) for e in messages(FR_PO) if e["msgid_plural"] and set(e["msgstr"]) != {0, 1}]
    assert untranslated == []
    assert fuzzy == []
    assert plurals_incomplete == []


def test_it_keeps_placeholders_tags_and_edge_spaces():
    wrong = []
    for e in messages(FR_PO):
        sources = [e["msgid"]] if not e["msgid_plural"] else [e["msgid"], e["msgid_plural"]]
        wanted = set().union(*(PLACEHOLDER.findall(s) for s in sources))
        for index, text in e["msgstr"].items():
            # A French singular may drop the count ("1 couvert" still shows it; "choose one" may not).
            found = set(PLACEHOLDER.findall(text))
            if (found != wanted) if index in (None, 1) else not found <= wanted:
                wrong.append(("placeholders", label(e), text))
            if sorted(TAG.findall(text)) != sorted(TAG.findall(e["msgid"])):
                wrong.append(("tags", label(e), text))
            if text[:1].isspace() != e["msgid"][:1].isspace() or text[-1:].isspace() != e["msgid"][-1:].isspace():
                wrong.append(("edge spaces", label(e), text))
    assert wrong == []


def test_it_keeps_the_english_catalogue_in_step_and_empty():
    english = {(e["msgctxt"], e["msgid"]) for e in messages(EN_PO)}
    french = {(e["msgctxt"], e["msgid"]) for e in messages(FR_PO)}
    assert english == french
    assert [label(e) for e in messages(EN_PO) if any(e["msgstr"].values())] == []


def test_it_ships_a_compiled_catalogue_that_matches_the_po_file():
    with FR_MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in messages(FR_PO):
        if e["msgid_plural"]:
            for n, index in ((1, 0), (2, 1)):
                got = (compiled.npgettext(e["msgctxt"], e["msgid"], e["msgid_plural"], n) if e["msgctxt"]
                       else compiled.ngettext(e["msgid"], e["msgid_plural"], n))
                if got != e["msgstr"][index]:
                    stale.append((label(e), n, got))
        else:
            got = compiled.pgettext(e["msgctxt"], e["msgid"]) if e["msgctxt"] else compiled.gettext(e["msgid"])
            if got != e["msgstr"][None]:
                stale.append((label(e), got))
    assert stale == [], "locale/fr is out of date: run manage.py compilemessages -l fr -l en"
    # Nothing compiled that the .po no longer holds (a .mo left from an older catalogue).
    assert len(compiled._catalog) - 1 == sum(2 if e["msgid_plural"] else 1 for e in messages(FR_PO))


def test_it_answers_every_french_message_through_django():
    wrong = []
    with translation.override("fr"):
        for e in messages(FR_PO):
            if e["msgid_plural"]:
                for n, index in ((1, 0), (3, 1)):
                    got = (translation.npgettext(e["msgctxt"], e["msgid"], e["msgid_plural"], n) if e["msgctxt"]
                           else translation.ngettext(e["msgid"], e["msgid_plural"], n))
                    if got != e["msgstr"][index]:
                        wrong.append((label(e), n, got))
            else:
                got = (translation.pgettext(e["msgctxt"], e["msgid"]) if e["msgctxt"]
                       else translation.gettext(e["msgid"]))
                if got != e["msgstr"][None]:
                    wrong.append((label(e), got))
    assert wrong == []


def test_it_speaks_english_from_the_source_strings():
    with translation.override("en"):
        assert translation.gettext("Send to kitchen") == "Send to kitchen"
        assert translation.ngettext("%(covers)s cover", "%(covers)s covers", 2) == "%(covers)s covers"
        assert translation.pgettext("sold out", "86") == "86"


def test_it_counts_french_plurals_from_two():
    with translation.override("fr"):
        one, zero, two = (translation.ngettext("%(covers)s cover", "%(covers)s covers", n) for n in (1, 0, 2))
    assert one == zero == "%(covers)s couvert"
    assert two == "%(covers)s couverts"


FRENCH_PAIRING = ["Appairer cet écran", "Code d'appairage ou jeton d'appareil", ">Appairer</button>",
                  "Responsable ? Ouvrir l'administration"]
ENGLISH_PAIRING = ["Pair this screen", "Pairing code or device token", ">Pair</button>", "Manager? Open the admin"]


def page_text(response) -> str:
    """The page with entities decoded (templates escape apostrophes) and no-break spaces as spaces."""
    return html.unescape(response.content.decode()).replace("\u00a0", " ")


@pytest.mark.parametrize(("language", "expected", "absent"), [
    ("fr", FRENCH_PAIRING, ENGLISH_PAIRING),
    ("fr-FR,fr;q=0.9,en;q=0.5", FRENCH_PAIRING, ENGLISH_PAIRING),
    ("en", ENGLISH_PAIRING, FRENCH_PAIRING),
    ("en-GB,en;q=0.8", ENGLISH_PAIRING, FRENCH_PAIRING),
])
def test_it_shows_the_pairing_page_in_the_browsers_language(client, db, language, expected, absent):
    response = client.get("/pair/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    text = page_text(response)
    assert [s for s in expected if s not in text] == []
    assert [s for s in absent if s in text] == []
    assert f'<html lang="{language[:2]}">' in text


def test_it_refuses_a_wrong_code_in_french(client, db):
    response = client.post("/pair/", {"token": "not-a-code"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    text = page_text(response)
    assert "Ce code ou ce jeton n'est pas valide" in text and "This code or token is not valid" not in text


def test_it_switches_the_pairing_page_to_english_and_back(client, db):
    assert "Appairer cet écran" in page_text(client.get("/pair/", HTTP_ACCEPT_LANGUAGE="fr"))
    client.post("/i18n/setlang/", {"language": "en", "next": "/pair/"})
    # The chosen language (cookie) wins over the browser's.
    assert "Pair this screen" in page_text(client.get("/pair/", HTTP_ACCEPT_LANGUAGE="fr"))
    client.post("/i18n/setlang/", {"language": "fr", "next": "/pair/"})
    assert "Appairer cet écran" in page_text(client.get("/pair/", HTTP_ACCEPT_LANGUAGE="en"))
