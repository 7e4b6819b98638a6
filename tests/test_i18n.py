"""English and Italian: every string marked, the Italian catalog complete and compiled,
the language chosen as Dolibarr chooses it, dates and numbers per locale."""
import io
from pathlib import Path

import i18n_check
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from autocontact.dolibarr import models
from autocontact.services import settings as settings_service

from conftest import html

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "translations" / "it" / "LC_MESSAGES"


def test_templates_have_no_untranslated_text():
    assert i18n_check.all_template_findings() == {}


def test_messages_given_to_users_are_translatable():
    assert i18n_check.all_python_findings() == {}


def _extracted_messages():
    method_map = [("autocontact/**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"trimmed": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None,
                "_l": None, "lazy_ngettext": (1, 2)}
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options, keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_italian_catalog_translates_every_message():
    with open(CATALOG / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    untranslated = sorted(
        message for message in _extracted_messages()
        if message not in catalog or not catalog[message].string
        or (isinstance(catalog[message].string, tuple) and not all(catalog[message].string))
        or catalog[message].fuzzy)
    assert untranslated == [], f"{len(untranslated)} messages lack an Italian translation"


def test_the_compiled_catalog_matches_its_source():
    with open(CATALOG / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert (CATALOG / "messages.mo").read_bytes() == compiled.getvalue(), \
        "run `make translations` to compile messages.mo"


def _set_lang(login, lang):
    models.User.update(lang=lang).where(models.User.login == login).execute()


def test_the_language_is_the_dolibarr_users_own(client, login_as):
    login = login_as("viewer")
    _set_lang(login, "it_IT")
    page = html(client.get("/", headers={"Accept-Language": "en"}))
    assert page.html["lang"] == "it"
    assert page.find("h1").get_text(strip=True) == "Panoramica"
    _set_lang(login, "en_US")
    page = html(client.get("/", headers={"Accept-Language": "it"}))
    assert page.html["lang"] == "en" and page.find("h1").get_text(strip=True) == "Overview"


def test_without_a_user_language_the_company_default_then_the_browser(client, login_as):
    login_as("viewer")  # llx_user.lang is NULL: Dolibarr's "automatic"
    assert html(client.get("/", headers={"Accept-Language": "it-IT,it;q=0.9"})).html["lang"] == "it"
    assert html(client.get("/", headers={"Accept-Language": "de-DE,en;q=0.5"})).html["lang"] == "en"
    settings_service.write_constants(1, {"MAIN_LANG_DEFAULT": "it_IT"})
    assert html(client.get("/", headers={"Accept-Language": "en"})).html["lang"] == "it"
    settings_service.write_constants(1, {"MAIN_LANG_DEFAULT": "auto"})
    assert html(client.get("/", headers={"Accept-Language": "en"})).html["lang"] == "en"


def test_the_login_page_follows_the_browser(client):
    page = html(client.get("/login", headers={"Accept-Language": "it"}))
    assert page.find("h1").get_text(strip=True) == "Accedi"
    assert page.find("button", type="submit").get_text(strip=True) == "Accedi"


@pytest.mark.parametrize("lang, expected", [("it_IT", "1.234.567"), ("en_US", "1,234,567")])
def test_numbers_are_formatted_per_locale(app, lang, expected):
    from flask_babel import force_locale
    with app.test_request_context(), force_locale(lang.split("_")[0]):
        assert app.jinja_env.filters["number"](1234567) == expected


def test_api_errors_speak_the_users_language(client, login_as):
    login = login_as("editor")
    payload = {"action": "fly", "thirdparty_ids": [1], "user_ids": [1]}
    english = client.post("/api/salesreps", json=payload).get_json()
    _set_lang(login, "it_IT")
    response = client.post("/api/salesreps", json=payload)
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == english["field"] == "action"
    assert body["error"] != english["error"] and "'action'" in body["error"]
