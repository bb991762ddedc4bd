"""The project's catalogue never replaces one of Django's own words.

Django merges every catalogue into one, the project's first: a project msgid that Django also uses, with
no context to tell them apart, silently retranslates Django's screens ("Change" meant "money given back"
on the till, and every "Modifier" link of the admin read "Monnaie rendue"). Words with a meaning of our
own carry a context (pgettext / `{% translate "…" context "…" %}`).
"""

import os
import re
from pathlib import Path

import django
from django.conf import settings
import pytest
from django.apps import apps

from tests.test_translations import FR_PO, read_po

DJANGO_ROOT = Path(django.__file__).parent


def django_catalogues() -> list[Path]:
    """Django's own French catalogues that this project loads: the core one and each installed
    contrib app's."""
    paths = [DJANGO_ROOT / "conf" / "locale" / "fr" / "LC_MESSAGES" / "django.po"]
    for config in apps.get_app_configs():
        po = Path(config.path) / "locale" / "fr" / "LC_MESSAGES" / "django.po"
        if po.is_relative_to(DJANGO_ROOT) and po.exists():
            paths.append(po)
    return paths


def translations_by_django() -> dict[str, set[str]]:
    """msgid (no context) -> every French text Django gives it."""
    words: dict[str, set[str]] = {}
    for po in django_catalogues():
        for entry in read_po(po):
            if entry["msgctxt"] is None and entry["msgid"] and entry["msgid_plural"] is None:
                text = entry["msgstr"].get(None)
                if text:
                    words.setdefault(entry["msgid"], set()).add(text)
    return words


def test_no_project_msgid_retranslates_one_of_djangos():
    django_words = translations_by_django()
    clashes = {}
    for entry in read_po(FR_PO):
        if entry["msgctxt"] is None and entry["msgid"] in django_words:
            ours = entry["msgstr"].get(None) or entry["msgstr"].get(0)
            if ours and ours not in django_words[entry["msgid"]]:
                clashes[entry["msgid"]] = (ours, sorted(django_words[entry["msgid"]]))
    assert clashes == {}, "give these msgids a context (pgettext): " + repr(clashes)


def test_the_check_sees_a_clash(tmp_path, monkeypatch):
    po = tmp_path / "django.po"
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Change"\nmsgstr "Monnaie rendue"\n\n'
                  'msgctxt "money"\nmsgid "Save"\nmsgstr "Épargne"\n', encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.FR_PO", po)
    with pytest.raises(AssertionError, match="Change"):
        test_no_project_msgid_retranslates_one_of_djangos()


LINK = re.compile(r'<a [^>]*class="(changelink|addlink|deletelink|historylink)"[^>]*>\s*([^<]*?)\s*<')
SUBMIT = re.compile(r'<input type="submit" value="([^"]+)"')
LINK_WORDS = {"changelink": "Change", "addlink": "Add", "deletelink": "Delete", "historylink": "History"}


@pytest.fixture
def manager_client(client, django_user_model):
    manager = django_user_model.objects.create_user(
        username="marie", password="correct horse battery", role="manager", is_staff=True
    )
    client.force_login(manager)
    client.manager = manager
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/", "/admin/orders/item/", "/admin/accounts/user/{manager}/change/", "/admin/accounts/device/"])
def test_the_french_admin_speaks_djangos_words(manager_client, url):
    """The index, a change list and a change form in French: every change/add/delete/history link and
    every save button reads as Django's own catalogue has it."""
    page = manager_client.get(url.format(manager=manager_client.manager.pk), headers={"accept-language": "fr"}).content.decode()
    assert 'lang="fr"' in page
    django_words = translations_by_django()
    links = LINK.findall(page)
    assert links, "the page shows no admin link to check"
    for kind, text in links:
        word = LINK_WORDS[kind]
        # "Ajouter article" on a change list: Django's "Add %(name)s".
        assert text in django_words[word] or text.split()[0] in django_words[word], (kind, text)
    for value in SUBMIT.findall(page):
        known = set().union(*django_words.values())
        assert value in known, f"button {value!r} is not Django's wording"


def test_every_text_marked_for_translation_is_in_the_french_catalogue(tmp_path):
    """makemessages run on a copy of the code finds no msgid that locale/fr lacks (a string marked
    for translation but never translated shows in English on French screens)."""
    import shutil
    import subprocess
    import sys

    root = Path(settings.BASE_DIR)
    copy = tmp_path / "tree"
    copy.mkdir()
    for name in ["manage.py", "accounts", "config", "core", "fiscal", "kds", "orders", "printing", "sync", "templates",
                 "static", "locale"]:
        source = root / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, copy / name)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "fr", "--no-obsolete", "-v", "0"],
        cwd=copy, check=True, env={**os.environ, "KDS_DATA_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    ours = {(e["msgctxt"], e["msgid"]) for e in read_po(FR_PO)}
    found = {(e["msgctxt"], e["msgid"]) for e in read_po(copy / "locale" / "fr" / "LC_MESSAGES" / "django.po")}
    assert sorted(found - ours, key=str) == []


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_catalogues_compile_without_error(language, tmp_path):
    """msgfmt --check: what compilemessages would refuse (an entry cut in two, a placeholder lost)."""
    import subprocess

    po = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(po)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
