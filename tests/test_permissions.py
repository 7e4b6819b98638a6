"""Every write route refuses people below its role, and changes nothing."""
import pytest

from autocontact.dolibarr import models
from autocontact.dolibarr.tool_tables import TOOL_MODELS, LoginAttempt

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = {"auth.login", "auth.logout"}
RANK = {"viewer": 0, "editor": 1, "manager": 2}
SAMPLE_ARGUMENTS = {"section": "options"}


def write_routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & WRITE_METHODS):
            if rule.endpoint not in PUBLIC:
                view = app.view_functions[rule.endpoint]
                yield rule, method, getattr(view, "required_role", None)


def snapshot():
    """Every row of every table the tool can write (login attempts aside)."""
    tables = [*models.DOLIBARR_MODELS, *(m for m in TOOL_MODELS if m is not LoginAttempt)]
    return {model.__name__: sorted(map(repr, model.select().tuples())) for model in tables}


def test_every_write_route_declares_its_role(app):
    routes = list(write_routes(app))
    assert routes, "there are write routes to check"
    undeclared = [rule.rule for rule, _, role in routes if role is None]
    assert not undeclared, f"write routes without role_required: {undeclared}"


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_people_below_the_role_get_403_and_nothing_changes(app, client, login_as, db, role):
    login_as(role)
    before = snapshot()
    checked = 0
    for rule, method, required in write_routes(app):
        if RANK[required] <= RANK[role]:
            continue
        url = rule.build({name: SAMPLE_ARGUMENTS.get(name, "1") for name in rule.arguments})[1]
        if url.startswith("/api/"):
            response = client.open(url, method=method, json={"allow_remove_all": True})
            assert response.get_json()["error"]
        else:
            response = client.open(url, method=method, data={"allow_remove_all": "1"})
        assert response.status_code == 403, (method, url)
        checked += 1
    assert checked, f"no route above {role} was checked"
    assert snapshot() == before


def test_anonymous_writes_are_refused(app, client, db):
    before = snapshot()
    for rule, method, _ in write_routes(app):
        url = rule.build({name: SAMPLE_ARGUMENTS.get(name, "1") for name in rule.arguments})[1]
        response = client.open(url, method=method, json={})
        assert response.status_code in (302, 401), (method, url)
    assert snapshot() == before
