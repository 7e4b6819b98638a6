"""The thirdparty filter: the same criteria select the list and mass-action targets."""
import pytest

from autocontact.dolibarr import models
from autocontact.services import thirdparties
from autocontact.services.thirdparties import FilterInvalid, parse_filter


def ids(criteria, entity=1):
    return {row.rowid for row in thirdparties.matching(parse_filter(criteria), entity)}


def sql_ids(db, where, params=()):
    return {row[0] for row in db.execute_sql(
        f"SELECT s.rowid FROM llx_societe s WHERE s.entity = 1 AND {where}", params)}


def test_no_criteria_is_every_thirdparty_of_the_entity(app, db):
    assert ids({}) == sql_ids(db, "1 = 1")


@pytest.mark.parametrize("kind, where", [
    ("customer", "s.client IN (1, 3)"), ("prospect", "s.client IN (2, 3)"),
    ("supplier", "s.fournisseur = 1"),
])
def test_kind(app, db, kind, where):
    assert ids({"kind": kind}) == sql_ids(db, where)


def test_status(app, db):
    assert ids({"status": "closed"}) == sql_ids(db, "s.status = 0")
    assert ids({"status": "open"}) == sql_ids(db, "s.status = 1")


def test_rep_filters(app, db):
    linked = sql_ids(db, "EXISTS (SELECT 1 FROM llx_societe_commerciaux sc WHERE sc.fk_soc = s.rowid)")
    assert ids({"rep": "none"}) == sql_ids(db, "1 = 1") - linked
    only_inactive = sql_ids(db, "EXISTS (SELECT 1 FROM llx_societe_commerciaux sc WHERE sc.fk_soc = s.rowid)"
                            " AND NOT EXISTS (SELECT 1 FROM llx_societe_commerciaux sc"
                            " JOIN llx_user u ON u.rowid = sc.fk_user"
                            " WHERE sc.fk_soc = s.rowid AND u.statut = 1)")
    assert ids({"rep": "inactive_only"}) == only_inactive
    user_id = db.execute_sql("SELECT fk_user FROM llx_societe_commerciaux LIMIT 1").fetchone()[0]
    assert ids({"rep": str(user_id)}) == sql_ids(
        db, "EXISTS (SELECT 1 FROM llx_societe_commerciaux sc WHERE sc.fk_soc = s.rowid"
            " AND sc.fk_user = %s)" % int(user_id))


def test_search_covers_name_alias_codes_and_town_case_insensitively(app, db):
    row = models.Thirdparty.select().where(models.Thirdparty.town.is_null(False),
                                           models.Thirdparty.entity == 1).first()
    assert row.rowid in ids({"q": row.town.upper()})
    assert row.rowid in ids({"q": row.name[1:5].lower()})
    code = row.code_client or row.code_fournisseur
    assert {row.rowid} <= ids({"q": code})


@pytest.mark.parametrize("q", ["%", "_", "!", "'", "\\", "' OR 1=1 --", '"; DROP TABLE llx_societe; --'])
def test_search_metacharacters_are_literal(app, db, q):
    p = db.param
    columns = ("s.nom", "s.name_alias", "s.code_client", "s.code_fournisseur", "s.town")
    where = " OR ".join(f"INSTR(LOWER(COALESCE({c}, '')), {p}) > 0" for c in columns)
    assert ids({"q": q}) == sql_ids(db, f"({where})", (q.lower(),) * len(columns))


def test_other_entities_are_never_listed(app, db):
    models.Thirdparty.insert(name="Elsewhere SA", entity=2, client=1).execute()
    assert "Elsewhere SA" not in {row.name for row in thirdparties.matching(parse_filter({}), 1)}


@pytest.mark.parametrize("values, field", [
    ({"kind": "martian"}, "kind"), ({"status": "maybe"}, "status"), ({"rep": "bob"}, "rep"),
    ({"sort": "password"}, "sort"), ({"page": "0"}, "page"), ({"page": "-1"}, "page"),
    ({"per_page": "1000"}, "per_page"), ({"q": "x" * 201}, "q"), ({"kind": {"a": 1}}, "kind"),
    ({"rep": True}, "rep"),
])
def test_bad_filters_name_their_field(values, field):
    with pytest.raises(FilterInvalid) as error:
        parse_filter(values)
    assert error.value.field == field


def test_list_page_sorts_paginates_and_reads_reps_in_constant_queries(app, db):
    from playhouse.test_utils import count_queries
    criteria = parse_filter({"sort": "-name", "per_page": "25", "page": "2"})
    with count_queries() as counter:
        page = thirdparties.list_page(criteria, 1)
    assert counter.count == 3
    names = [row.name for row in page.rows]
    all_names = [row[0] for row in db.execute_sql(
        "SELECT nom FROM llx_societe WHERE entity = 1 ORDER BY nom DESC, rowid DESC")]
    assert names == all_names[25:50]
    assert page.total == len(all_names)
