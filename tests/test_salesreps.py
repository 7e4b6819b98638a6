"""Mass actions on sales reps through POST /api/salesreps, on SQLite and MariaDB."""
import pytest
from playhouse.test_utils import count_queries

from autocontact.dolibarr import models
from autocontact.dolibarr.tool_tables import Batch, BatchSalesRep
from autocontact.services import settings as settings_service

from test_permissions import snapshot


def reps(db, thirdparty_id):
    """The reps of a thirdparty with the SQL of Societe::getSalesRepresentatives."""
    rows = db.execute_sql(
        "SELECT DISTINCT u.rowid FROM llx_user AS u, llx_societe_commerciaux AS sc"
        f" WHERE sc.fk_soc = {int(thirdparty_id)} AND sc.fk_user = u.rowid AND u.entity IN (0, 1)"
        " ORDER BY u.rowid").fetchall()
    return [row[0] for row in rows]


def links(db):
    return db.execute_sql("SELECT fk_soc, fk_user, fk_c_type_contact_code FROM llx_societe_commerciaux"
                          " ORDER BY fk_soc, fk_user").fetchall()


@pytest.fixture
def team(people):
    """Reps created for the test, whatever the dataset."""
    return {
        "anna": people.user("anna.rep", firstname="Anna", lastname="Alpha"),
        "bruno": people.user("bruno.rep", firstname="Bruno", lastname="Beta"),
        "carla": people.user("carla.rep", firstname="Carla", lastname="Gamma"),
        "gone": people.user("gone.rep", firstname="Gino", lastname="Gone", statut=0),
        "outside": people.user("outside.rep", fk_soc=1),
    }


@pytest.fixture
def some_thirdparties(db):
    return [row[0] for row in db.execute_sql(
        "SELECT rowid FROM llx_societe WHERE entity = 1 ORDER BY rowid LIMIT 6")]


@pytest.fixture
def editor(login_as):
    return login_as("editor")


def post(client, **payload):
    return client.post("/api/salesreps", json=payload)


def test_assign_adds_reps_and_keeps_the_others(client, editor, db, team, some_thirdparties):
    before = {tid: reps(db, tid) for tid in some_thirdparties}
    response = post(client, action="assign", thirdparty_ids=some_thirdparties,
                    user_ids=[team["anna"], team["bruno"]])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["links_added"] == 2 * len(some_thirdparties)
    assert body["links_removed"] == 0 and body["thirdparties"] == len(some_thirdparties)
    assert body["batch_id"]
    for tid in some_thirdparties:
        assert reps(db, tid) == sorted(before[tid] + [team["anna"], team["bruno"]])
    codes = {code for soc, user, code in links(db) if user in (team["anna"], team["bruno"])}
    assert codes == {"SALESREPTHIRD"}
    # Again: nothing to add, no duplicate, no batch.
    again = post(client, action="assign", thirdparty_ids=some_thirdparties,
                 user_ids=[team["anna"]]).get_json()
    assert again == {**again, "links_added": 0, "links_removed": 0, "batch_id": None}
    assert len(links(db)) == len(set(links(db)))


def test_assign_with_replace_leaves_only_the_chosen(client, editor, db, team, some_thirdparties):
    post(client, action="assign", thirdparty_ids=some_thirdparties, user_ids=[team["anna"]])
    body = post(client, action="assign", thirdparty_ids=some_thirdparties,
                user_ids=[team["bruno"]], replace=True).get_json()
    for tid in some_thirdparties:
        assert reps(db, tid) == [team["bruno"]]
    assert body["links_removed"] >= len(some_thirdparties)


def test_unassign_removes_inactive_reps_too(client, editor, db, team, some_thirdparties):
    for user in ("anna", "gone"):
        models.SalesRepLink.insert_many(
            [{"fk_soc": tid, "fk_user": team[user]} for tid in some_thirdparties[:3]]).execute()
    body = post(client, action="unassign", thirdparty_ids=some_thirdparties,
                user_ids=[team["gone"]]).get_json()
    assert body["links_removed"] == 3 and body["thirdparties"] == 3
    for tid in some_thirdparties[:3]:
        assert team["gone"] not in reps(db, tid) and team["anna"] in reps(db, tid)


def test_clear_needs_the_setup_option(client, editor, db, some_thirdparties):
    refused = post(client, action="clear", thirdparty_ids=some_thirdparties)
    assert refused.status_code == 400 and "disabled in setup" in refused.get_json()["error"]
    settings_service.write_constants(1, {"AUTOCONTACT_ALLOW_REMOVE_ALL": "1"})
    assert post(client, action="clear", thirdparty_ids=some_thirdparties).status_code == 200
    assert all(reps(db, tid) == [] for tid in some_thirdparties)


def test_transfer_by_filter_moves_the_portfolio(client, editor, db, team, some_thirdparties):
    models.SalesRepLink.insert_many(
        [{"fk_soc": tid, "fk_user": team["anna"]} for tid in some_thirdparties[:4]]).execute()
    models.SalesRepLink.insert(fk_soc=some_thirdparties[0], fk_user=team["bruno"]).execute()
    untouched = {tid: reps(db, tid) for tid in some_thirdparties[4:]}
    body = post(client, action="transfer", filter={"rep": str(team["anna"])},
                from_user_id=team["anna"], to_user_id=team["bruno"]).get_json()
    assert body["thirdparties"] == 4 and body["links_removed"] == 4 and body["links_added"] == 3
    for tid in some_thirdparties[:4]:
        assert team["anna"] not in reps(db, tid) and team["bruno"] in reps(db, tid)
    assert {tid: reps(db, tid) for tid in some_thirdparties[4:]} == untouched
    assert len(links(db)) == len(set(links(db)))


def test_transfer_from_an_inactive_rep(client, editor, db, team, some_thirdparties):
    models.SalesRepLink.insert(fk_soc=some_thirdparties[0], fk_user=team["gone"]).execute()
    body = post(client, action="transfer", thirdparty_ids=some_thirdparties,
                from_user_id=team["gone"], to_user_id=team["carla"]).get_json()
    assert (body["links_removed"], body["links_added"]) == (1, 1)


def test_dry_run_reports_exactly_and_changes_nothing(client, editor, db, team, some_thirdparties):
    before = snapshot()
    dry = post(client, action="assign", thirdparty_ids=some_thirdparties,
               user_ids=[team["anna"]], replace=True, dry_run=True).get_json()
    assert dry["batch_id"] is None and snapshot() == before
    real = post(client, action="assign", thirdparty_ids=some_thirdparties,
                user_ids=[team["anna"]], replace=True).get_json()
    assert {k: v for k, v in dry.items() if k != "batch_id"} == \
           {k: v for k, v in real.items() if k != "batch_id"}


def test_journal_records_the_exact_rows(client, editor, db, team, some_thirdparties):
    models.SalesRepLink.insert(fk_soc=some_thirdparties[0], fk_user=team["anna"],
                               import_key="IMP1").execute()
    old = models.SalesRepLink.get(fk_soc=some_thirdparties[0], fk_user=team["anna"])
    batch_id = post(client, action="transfer", thirdparty_ids=some_thirdparties,
                    from_user_id=team["anna"], to_user_id=team["bruno"]).get_json()["batch_id"]
    rows = {row.change: row for row in BatchSalesRep.select().where(BatchSalesRep.batch_id == batch_id)}
    assert (rows["-"].link_rowid, rows["-"].import_key, rows["-"].type_code) == \
           (old.rowid, "IMP1", "SALESREPTHIRD")
    new = models.SalesRepLink.get(fk_soc=some_thirdparties[0], fk_user=team["bruno"])
    assert rows["+"].link_rowid == new.rowid
    batch = Batch.get_by_id(batch_id)
    assert (batch.action, batch.links_added, batch.links_removed, batch.thirdparties) == \
           ("transfer", 1, 1, 1)
    assert "Anna Alpha" in batch.summary and "Bruno Beta" in batch.summary


def test_filter_selection_is_resolved_on_the_server(client, editor, db, team):
    closed = {row[0] for row in db.execute_sql(
        "SELECT rowid FROM llx_societe WHERE entity = 1 AND status = 0")}
    if not closed:
        db.execute_sql("UPDATE llx_societe SET status = 0 WHERE rowid = "
                       "(SELECT MIN(rowid) FROM (SELECT rowid FROM llx_societe WHERE entity = 1) t)")
        closed = {row[0] for row in db.execute_sql(
            "SELECT rowid FROM llx_societe WHERE entity = 1 AND status = 0")}
    body = post(client, action="assign", filter={"status": "closed"},
                user_ids=[team["carla"]]).get_json()
    assert body["selected"] == len(closed)
    assert {soc for soc, user, _ in links(db) if user == team["carla"]} == closed


def test_preview_lists_visibility_changes_per_user(client, editor, db, team, some_thirdparties):
    models.UserRight.insert(entity=1, fk_user=team["bruno"], fk_id=262).execute()
    body = post(client, action="assign", thirdparty_ids=some_thirdparties,
                user_ids=[team["anna"], team["bruno"]], dry_run=True).get_json()
    per_user = {row["user_id"]: row for row in body["per_user"]}
    assert per_user[team["anna"]]["added"] == len(some_thirdparties)
    assert per_user[team["anna"]]["sees_all"] is False
    assert per_user[team["bruno"]]["sees_all"] is True


@pytest.mark.parametrize("payload, field, words", [
    ({"action": "assign", "user_ids": ["U"]}, "user_ids", "whole number"),
    ({"action": "assign", "user_ids": [999999]}, "user_ids", "does not exist"),
    ({"action": "assign", "user_ids": ["gone"]}, "user_ids", "disabled"),
    ({"action": "assign", "user_ids": ["outside"]}, "user_ids", "external"),
    ({"action": "assign", "user_ids": []}, "user_ids", "at least one user"),
    ({"action": "assign", "user_ids": ["anna", "anna"]}, "user_ids", "more than once"),
    ({"action": "transfer", "from_user_id": "anna", "to_user_id": "gone"}, "to_user_id", "disabled"),
    ({"action": "transfer", "from_user_id": "anna", "to_user_id": "outside"}, "to_user_id", "external"),
    ({"action": "transfer", "from_user_id": "anna"}, "to_user_id", "needs"),
    ({"action": "transfer", "from_user_id": "anna", "to_user_id": "anna"}, "to_user_id", "different"),
    ({"action": "promote", "user_ids": ["anna"]}, "action", "must be one of"),
    ({"action": "clear"}, "action", "disabled in setup"),
    ({"action": "assign", "user_ids": ["anna"], "dry_run": "yes"}, "dry_run", "true or false"),
])
def test_bad_input_is_refused_and_changes_nothing(client, editor, db, team, some_thirdparties,
                                                  payload, field, words):
    def resolve(value):
        return team.get(value, value) if isinstance(value, str) else value

    payload = {key: ([resolve(v) for v in value] if isinstance(value, list) else resolve(value))
               for key, value in payload.items()}
    payload.setdefault("thirdparty_ids", some_thirdparties)
    before = snapshot()
    response = post(client, **payload)
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and words in body["error"]
    assert snapshot() == before


@pytest.mark.parametrize("selection, field, words", [
    ({"thirdparty_ids": []}, "thirdparty_ids", "empty"),
    ({"thirdparty_ids": [99999999]}, "thirdparty_ids", "does not exist"),
    ({"thirdparty_ids": "1,2"}, "thirdparty_ids", "must be a list"),
    ({"thirdparty_ids": list(range(1, 100_002))}, "thirdparty_ids", "at most 100,000"),
    ({}, "thirdparty_ids", "either"),
    ({"thirdparty_ids": [1], "filter": {}}, "thirdparty_ids", "either"),
    ({"filter": {"kind": "alien"}}, "filter.kind", "Unknown kind"),
    ({"filter": "status=open"}, "filter.filter", "object"),
])
def test_bad_selections_are_refused(client, editor, db, team, selection, field, words):
    before = snapshot()
    response = post(client, action="assign", user_ids=[team["anna"]], **selection)
    assert response.status_code == 400
    assert response.get_json()["field"] == field and words in response.get_json()["error"]
    assert snapshot() == before


def test_duplicated_and_foreign_thirdparty_ids(client, editor, db, team, some_thirdparties):
    foreign = models.Thirdparty.insert(name="Other entity SA", entity=2).execute()
    for ids, words in (([some_thirdparties[0]] * 2, "more than once"), ([foreign], "does not exist")):
        response = post(client, action="assign", user_ids=[team["anna"]], thirdparty_ids=ids)
        assert response.status_code == 400 and words in response.get_json()["error"]


def test_viewers_cannot_change_reps(client, login_as, db, team, some_thirdparties):
    login_as("viewer")
    before = snapshot()
    response = post(client, action="assign", thirdparty_ids=some_thirdparties,
                    user_ids=[team["anna"]])
    assert response.status_code == 403 and snapshot() == before


def test_statement_count_does_not_depend_on_the_number_of_thirdparties(app, db, team):
    from autocontact.services import salesreps
    from autocontact.services.permissions import Actor
    actor = Actor(user_id=team["anna"], login="anna.rep", full_name="Anna",
                  roles=frozenset({"viewer", "editor"}))
    schema = app.extensions["autocontact.schema"]
    settings = settings_service.load(1)
    all_ids = [row[0] for row in db.execute_sql("SELECT rowid FROM llx_societe WHERE entity = 1")]
    counts = []
    for ids in (all_ids[:2], all_ids):
        for action, extra in (("assign", {"user_ids": [team["bruno"], team["carla"]]}),
                              ("transfer", {"from_user_id": team["bruno"],
                                            "to_user_id": team["anna"]})):
            request = salesreps.parse_request(
                {"action": action, "thirdparty_ids": ids, **extra}, 1, settings)
            with count_queries() as counter:
                outcome = salesreps.run(actor, request, 1, schema)
            assert outcome.links_added > 0
            counts.append(counter.count)
    assert counts[:2] == counts[2:]


@pytest.mark.parametrize("backend", ["mariadb"])  # SQLite gives consecutive row ids
def test_journal_names_added_links_whose_ids_have_gaps(app, db, team, some_thirdparties):
    """The added links are journaled by their range of row ids; when the ids are not
    consecutive (auto_increment_increment > 1 as on Galera, innodb_autoinc_lock_mode 2
    under concurrent inserts) the rest are found beyond the range: every one with its id."""
    from autocontact.services import journal, salesreps
    from autocontact.services.permissions import Actor
    assert journal.on_mysql()
    actor = Actor(user_id=team["anna"], login="anna.rep", full_name="Anna",
                  roles=frozenset({"viewer", "editor"}))
    request = salesreps.parse_request(
        {"action": "assign", "thirdparty_ids": some_thirdparties,
         "user_ids": [team["bruno"], team["carla"]]}, 1, settings_service.load(1))
    db.execute_sql("SET SESSION auto_increment_increment = 3")
    try:
        outcome = salesreps.run(actor, request, 1, app.extensions["autocontact.schema"])
    finally:
        db.execute_sql("SET SESSION auto_increment_increment = 1")
    journaled = {(row.fk_soc, row.fk_user): row.link_rowid for row in BatchSalesRep.select()
                 .where(BatchSalesRep.batch_id == outcome.batch_id, BatchSalesRep.change == "+")}
    added = {(row.fk_soc, row.fk_user): row.rowid for row in models.SalesRepLink.select().where(
        models.SalesRepLink.fk_user.in_([team["bruno"], team["carla"]]))}
    assert journaled == added and outcome.links_added == len(added) == 2 * len(some_thirdparties)
    assert {row["user_id"]: row["added"] for row in outcome.per_user} == \
        {team["bruno"]: len(some_thirdparties), team["carla"]: len(some_thirdparties)}
    assert outcome.thirdparties == len(some_thirdparties)


def test_links_on_a_dolibarr_19_schema_have_no_type_code(mariadb, tmp_path, password_hash):
    """Before Dolibarr 20 llx_societe_commerciaux has no fk_c_type_contact_code."""
    from conftest import SCHEMA_20, AuthActions, People, make_app
    name = mariadb.create(SCHEMA_20)
    try:
        mariadb.execute("DROP TABLE llx_societe_commerciaux", name)
        mariadb.execute(
            "CREATE TABLE llx_societe_commerciaux (rowid integer AUTO_INCREMENT PRIMARY KEY,"
            " fk_soc integer, fk_user integer, import_key varchar(14),"
            " UNIQUE KEY uk_societe_commerciaux (fk_soc, fk_user)) ENGINE=innodb", name)
        app = make_app(mariadb.url(name), tmp_path)
        people = People(app, password_hash)
        people.user("boss19", admin=1)
        rep = people.user("rep19")
        tid = models.Thirdparty.insert(name="Vecchia S.r.l.", entity=1, client=1).execute()
        client = app.test_client()
        AuthActions(client).login("boss19")
        body = client.post("/api/salesreps", json={"action": "assign", "thirdparty_ids": [tid],
                                                   "user_ids": [rep]}).get_json()
        assert body["links_added"] == 1
        rows = mariadb.execute("SELECT fk_soc, fk_user FROM llx_societe_commerciaux", name)
        assert rows == ((tid, rep),)
    finally:
        mariadb.drop(name)


def test_filter_on_reps_is_fixed_at_the_start(client, editor, db, team, some_thirdparties):
    """Assign-with-replace on "rep = A" must not lose the selection half-way."""
    for tid in some_thirdparties[:2]:
        models.SalesRepLink.insert(fk_soc=tid, fk_user=team["anna"]).execute()
    body = post(client, action="assign", filter={"rep": str(team["anna"])},
                user_ids=[team["bruno"]], replace=True).get_json()
    assert body["selected"] == 2 and body["links_added"] == 2
    for tid in some_thirdparties[:2]:
        assert reps(db, tid) == [team["bruno"]]


def test_transfer_when_a_holds_two_links_with_other_codes(client, editor, db, team, some_thirdparties):
    tid = some_thirdparties[0]
    models.SalesRepLink.insert(fk_soc=tid, fk_user=team["anna"]).execute()
    models.SalesRepLink.insert(fk_soc=tid, fk_user=team["anna"], type_code="OTHERCODE").execute()
    body = post(client, action="transfer", thirdparty_ids=[tid], from_user_id=team["anna"],
                to_user_id=team["bruno"]).get_json()
    assert (body["links_removed"], body["links_added"]) == (2, 1)


@pytest.mark.parametrize("query", ["page=²", "rep=²", "per_page=²", "q=%F0%9F%98%80", "q=%00"])
def test_odd_query_values_are_400_not_500(client, editor, query):
    assert client.get(f"/thirdparties?{query}").status_code == 400


def test_quadratic_duplicate_scan_is_gone(client, editor, db, team):
    import time
    ids = list(range(1, 60_001)) + [1]
    started = time.monotonic()
    response = post(client, action="assign", thirdparty_ids=ids, user_ids=[team["anna"]])
    assert response.status_code == 400 and time.monotonic() - started < 5
