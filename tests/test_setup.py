"""Setup: stored in llx_const, validated field by field, managers only."""
import pytest

from autocontact.dolibarr import doctypes, models
from autocontact.dolibarr.tool_tables import Batch, BatchSetting

from conftest import html


def autocontact_constants(db):
    return sorted(db.execute_sql(
        "SELECT name, entity, value FROM llx_const WHERE name LIKE 'AUTOCONTACT%%' "
        "ORDER BY name, entity").fetchall())


def active_internal_types(db, element):
    return sorted(row[0] for row in db.execute_sql(
        "SELECT code FROM llx_c_type_contact WHERE element = %s AND source = 'internal' "
        "AND active = 1" % ("'" + element + "'")))


def test_a_fresh_database_works_with_defaults(client, login_as):
    login_as("admin")
    body = client.get("/api/settings").get_json()
    assert body["doc_types"]["propal"]["contact_type"] == "SALESREPFOLL"
    assert body["doc_types"]["fichinter"]["contact_type"] == "INTERREPFOLL"
    assert body["doc_types"]["project"]["contact_type"] == "PROJECTLEADER"
    assert body["doc_types"]["facture"]["closed_statuses"] == [2, 3]
    assert all(value["enabled"] for value in body["doc_types"].values())
    assert body["allow_remove_all"] is False and body["agenda_events"] is False
    assert body["default_period"] == "current_year"
    assert body["editor_groups"] == [] and body["manager_ldap_groups"] == []


def test_contact_type_choices_are_the_active_internal_rows(client, login_as, db):
    login_as("manager")
    page = html(client.get("/setup"))
    api = client.get("/api/settings").get_json()["choices"]["contact_types"]
    for doc_type in doctypes.DOC_TYPES:
        expected = active_internal_types(db, doc_type.element)
        select = page.find("select", id=f"{doc_type.element}-contact_type")
        offered = sorted(option["value"] for option in select.find_all("option") if option["value"])
        assert offered == expected, doc_type.element
        assert sorted(row["code"] for row in api.get(doc_type.element, [])) == expected


def test_deactivated_dictionary_row_is_no_longer_offered(client, login_as, db):
    models.ContactType.update(active=0).where(models.ContactType.element == "propal",
                                              models.ContactType.code == "SALESREPFOLL").execute()
    login_as("manager")
    page = html(client.get("/setup"))
    options = page.find("select", id="propal-contact_type").find_all("option")
    assert [o for o in options if o["value"] == "SALESREPFOLL"][0].text.endswith(
        "(not an active internal type)")


def test_put_settings_lands_in_llx_const_and_reads_back(client, login_as, db, people):
    group_id = people.group("Territory leads")
    login_as("manager")
    response = client.put("/api/settings", json={
        "doc_types": {"propal": {"date_field": "creation", "closed_statuses": [4]},
                      "shipping": {"enabled": False}},
        "editor_groups": [group_id],
        "editor_ldap_groups": ["cn=Sales,ou=groups,dc=example,dc=com"],
        "allow_remove_all": True,
        "default_period": "last_12_months",
    })
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["batch_id"]
    assert body["doc_types"]["propal"]["date_field"] == "creation"
    stored = {name: (entity, value) for name, entity, value in autocontact_constants(db)}
    assert stored["AUTOCONTACT_DOC_PROPAL_DATE"] == (1, "creation")
    assert stored["AUTOCONTACT_DOC_PROPAL_CLOSED"] == (1, "[4]")
    assert stored["AUTOCONTACT_DOC_SHIPPING_ENABLED"] == (1, "0")
    assert stored["AUTOCONTACT_EDITOR_GROUPS"] == (1, f"[{group_id}]")
    assert stored["AUTOCONTACT_ALLOW_REMOVE_ALL"] == (1, "1")
    assert stored["AUTOCONTACT_DEFAULT_PERIOD"] == (1, "last_12_months")
    again = client.get("/api/settings").get_json()
    assert again["doc_types"]["shipping"]["enabled"] is False
    assert again["editor_ldap_groups"] == ["cn=Sales,ou=groups,dc=example,dc=com"]
    # Rows are written the way dolibarr_set_const writes them.
    row = models.Constant.get(models.Constant.name == "AUTOCONTACT_DEFAULT_PERIOD")
    assert (row.type, row.visible) == ("chaine", 0)


def test_setting_change_is_journaled_with_old_and_new_values(client, login_as, db):
    login_as("manager")
    client.put("/api/settings", json={"agenda_events": True})
    batch_id = client.put("/api/settings", json={"agenda_events": False}).get_json()["batch_id"]
    batch = Batch.get_by_id(batch_id)
    assert batch.action == "settings" and batch.user_login.startswith("manager-")
    (change,) = BatchSetting.select().where(BatchSetting.batch_id == batch_id)
    assert (change.name, change.old_value, change.new_value) == ("AUTOCONTACT_AGENDA_EVENTS", "1", "0")
    assert change.old_rowid is not None
    # Saving the same values again changes nothing and records nothing.
    assert client.put("/api/settings", json={"agenda_events": False}).get_json()["batch_id"] is None


@pytest.mark.parametrize("payload, field", [
    ({"doc_types": {"propal": {"contact_type": "NOSUCHCODE"}}}, "doc_types.propal.contact_type"),
    ({"doc_types": {"propal": {"contact_type": "INTERREPFOLL"}}}, "doc_types.propal.contact_type"),
    ({"doc_types": {"propal": {"contact_type": "CUSTOMER"}}}, "doc_types.propal.contact_type"),
    ({"doc_types": {"propal": {"closed_statuses": [9]}}}, "doc_types.propal.closed_statuses"),
    ({"doc_types": {"propal": {"date_field": "tomorrow"}}}, "doc_types.propal.date_field"),
    ({"doc_types": {"invoice": {"enabled": True}}}, "doc_types.invoice"),
    ({"editor_groups": [999999]}, "editor_groups"),
    ({"manager_groups": ["x"]}, "manager_groups"),
    ({"editor_ldap_groups": ["not a dn"]}, "editor_ldap_groups"),
    ({"manager_ldap_groups": "cn=x,dc=y"}, "manager_ldap_groups"),
    ({"default_period": "forever"}, "default_period"),
    ({"default_period": "custom", "default_date_from": "2024-05-01"}, "default_date_from"),
    ({"default_date_from": "2024-13-01"}, "default_date_from"),
    ({"allow_remove_all": "maybe"}, "allow_remove_all"),
    ({"colour": "blue"}, "colour"),
])
def test_invalid_settings_are_refused_field_by_field(client, login_as, db, payload, field):
    login_as("manager")
    before, batches = autocontact_constants(db), Batch.select().count()
    response = client.put("/api/settings", json={"agenda_events": True, **payload})
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and body["error"]
    assert autocontact_constants(db) == before and Batch.select().count() == batches


def test_group_of_another_entity_is_refused(client, login_as, db):
    other = models.UserGroup.insert(name="Other company sales", entity=2).execute()
    login_as("manager")
    response = client.put("/api/settings", json={"editor_groups": [other]})
    assert response.status_code == 400 and response.get_json()["field"] == "editor_groups"


def test_not_json_is_a_400(client, login_as):
    login_as("manager")
    response = client.put("/api/settings", data="agenda=1",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewers_and_editors_cannot_open_or_write_setup(client, login_as, db, role):
    login_as(role)
    before = autocontact_constants(db)
    assert client.get("/setup").status_code == 403
    assert client.post("/setup/options", data={"allow_remove_all": "1"}).status_code == 403
    assert client.put("/api/settings", json={"allow_remove_all": True}).status_code == 403
    assert autocontact_constants(db) == before
    page = html(client.get("/"))
    assert not page.find("a", href="/setup")
    expected = 200 if role == "editor" else 403
    assert client.get("/api/settings").status_code == expected


def test_manager_sees_the_setup_link(client, login_as):
    login_as("manager")
    assert html(client.get("/")).find("a", href="/setup")


def test_htmx_section_save_returns_the_section(client, login_as, db):
    login_as("manager")
    response = client.post("/setup/options", headers={"HX-Request": "true"}, data={
        "agenda_events": "1", "default_period": "last_2_years"})
    assert response.status_code == 200
    fragment = html(response)
    assert fragment.find("html") is None
    section = fragment.find("section", id="options")
    assert section.find(attrs={"role": "status"}).get_text(strip=True) == "Saved."
    assert section.find("input", attrs={"name": "agenda_events"}).has_attr("checked")
    assert ("AUTOCONTACT_AGENDA_EVENTS", 1, "1") in autocontact_constants(db)


def test_htmx_section_errors_come_back_next_to_the_field_and_keep_the_input(client, login_as, db):
    login_as("manager")
    before = autocontact_constants(db)
    response = client.post("/setup/permissions", headers={"HX-Request": "true"}, data={
        "editor_ldap_groups": "cn=ok,dc=example,dc=com\nthis is not a DN", "manager_ldap_groups": ""})
    assert response.status_code == 400
    section = html(response).find("section", id="permissions")
    textarea = section.find("textarea", id="editor_ldap_groups")
    assert textarea["aria-invalid"] == "true"
    assert "this is not a DN" in textarea.get_text()
    assert "not a valid LDAP DN" in section.find(id="editor_ldap_groups-error").get_text()
    assert autocontact_constants(db) == before


def test_plain_form_post_works_without_javascript(client, login_as, db):
    login_as("manager")
    data = {}
    for doc_type in doctypes.DOC_TYPES:
        data[f"{doc_type.element}-enabled"] = "1"
        data[f"{doc_type.element}-contact_type"] = doc_type.default_contact_code
        data[f"{doc_type.element}-date_field"] = "document" if doc_type.date_column else "creation"
    data["propal-closed"] = ["3", "4"]
    del data["project-enabled"]
    response = client.post("/setup/doc_types", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/setup"
    page = html(client.get("/setup"))
    assert "Saved." in page.find(id="messages").get_text()
    assert not page.find("input", id="project-enabled").has_attr("checked")
    stored = {name: value for name, _, value in autocontact_constants(db)}
    assert stored["AUTOCONTACT_DOC_PROPAL_CLOSED"] == "[3, 4]"
    assert stored["AUTOCONTACT_DOC_PROJECT_ENABLED"] == "0"


def test_plain_form_post_with_errors_rerenders_the_page_with_400(client, login_as):
    login_as("manager")
    response = client.post("/setup/options", data={"default_period": "custom",
                                                   "default_date_from": "2025-02-01",
                                                   "default_date_to": "2025-01-01"})
    assert response.status_code == 400
    page = html(response)
    assert page.find("h1").get_text() == "Setup"
    assert "before the start date" in page.find(id="default_date_to-error").get_text()


def test_unknown_section_is_a_404(client, login_as):
    login_as("manager")
    assert client.post("/setup/nothing", data={}).status_code == 404


def test_csrf_is_required_on_setup_forms(client, login_as):
    login_as("manager")
    assert client.post("/setup/options", data={}, csrf=False).status_code == 400


@pytest.mark.parametrize("payload, field", [
    ({"doc_types": {"propal": {"contact_type": [1]}}}, "doc_types.propal.contact_type"),
    ({"doc_types": {"propal": {"contact_type": {"a": 1}}}}, "doc_types.propal.contact_type"),
    ({"editor_groups": [1.9]}, "editor_groups"),
    ({"editor_groups": [True]}, "editor_groups"),
    ({"doc_types": {"propal": {"closed_statuses": [2.7]}}}, "doc_types.propal.closed_statuses"),
    ({"default_date_from": "20240101"}, "default_date_from"),
    ({"doc_types": {"supplier_proposal": {"date_field": "document"}}},
     "doc_types.supplier_proposal.date_field"),
    ({"editor_ldap_groups": ["cn=g%d,dc=example,dc=com" % n for n in range(51)]}, "editor_ldap_groups"),
    ({"editor_ldap_groups": ["cn=" + "x" * 600 + ",dc=example,dc=com"]}, "editor_ldap_groups"),
    ({"agenda_events": 1.0}, "agenda_events"),
])
def test_values_of_the_wrong_type_are_refused_not_coerced(client, login_as, db, payload, field):
    login_as("manager")
    before = autocontact_constants(db)
    response = client.put("/api/settings", json=payload)
    assert response.status_code == 400 and response.get_json()["field"] == field
    assert autocontact_constants(db) == before


def test_infinity_in_json_is_a_400(client, login_as):
    login_as("manager")
    response = client.put("/api/settings", data='{"editor_groups": [Infinity]}',
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_no_closed_status_is_kept_as_none(client, login_as):
    login_as("manager")
    client.put("/api/settings", json={"doc_types": {"propal": {"closed_statuses": []}}})
    body = client.get("/api/settings").get_json()
    assert body["doc_types"]["propal"]["closed_statuses"] == []


def test_a_type_without_contact_type_can_be_disabled(client, login_as, db):
    models.ContactType.update(active=0).where(models.ContactType.element == "shipping").execute()
    login_as("manager")
    refused = client.put("/api/settings", json={"doc_types": {"shipping": {"contact_type": ""}}})
    assert refused.status_code == 400
    ok = client.put("/api/settings", json={"doc_types": {"shipping": {"enabled": False,
                                                                       "contact_type": ""}}})
    assert ok.status_code == 200
