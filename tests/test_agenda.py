"""Agenda events written for a batch, read back with Dolibarr's own queries.

Every test runs on the SQLite demo and on MariaDB with Dolibarr 23's dump.
"""
from datetime import datetime, timedelta

import pytest
from peewee import SqliteDatabase
from playhouse.test_utils import count_queries

from autocontact.dolibarr import ddl, models
from autocontact.dolibarr.tool_tables import BatchContact, BatchSalesRep
from autocontact.services import agenda, journal
from autocontact.services.permissions import Actor

# Dolibarr's two agenda tables that the project's dump leaves out, as Dolibarr 23 creates
# them (htdocs/install/mysql/tables/llx_c_actioncomm.sql, llx_actioncomm_resources.sql).
AGENDA_TABLES = """
CREATE TABLE `llx_c_actioncomm` (
  `id` int(11) NOT NULL,
  `code` varchar(50) NOT NULL,
  `type` varchar(50) NOT NULL DEFAULT 'system',
  `libelle` varchar(128) NOT NULL,
  `module` varchar(50) DEFAULT NULL,
  `active` tinyint(4) NOT NULL DEFAULT 1,
  `todo` tinyint(4) DEFAULT NULL,
  `color` varchar(9) DEFAULT NULL,
  `picto` varchar(48) DEFAULT NULL,
  `position` int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_c_actioncomm` (`code`)
) ENGINE=InnoDB;
CREATE TABLE `llx_actioncomm_resources` (
  `rowid` int(11) NOT NULL AUTO_INCREMENT,
  `fk_actioncomm` int(11) NOT NULL,
  `element_type` varchar(50) NOT NULL,
  `fk_element` int(11) NOT NULL,
  `answer_status` varchar(50) DEFAULT NULL,
  `mandatory` smallint(6) DEFAULT NULL,
  `transparency` smallint(6) DEFAULT 1,
  PRIMARY KEY (`rowid`),
  UNIQUE KEY `uk_actioncomm_resources` (`fk_actioncomm`,`element_type`,`fk_element`),
  KEY `idx_actioncomm_resources_fk_element` (`fk_element`)
) ENGINE=InnoDB;
"""
# htdocs/install/mysql/data/llx_c_actioncomm.sql (ids as Dolibarr installs them)
ACTION_TYPES = [(40, "AC_OTH_AUTO", "systemauto", "Other (automatically inserted events)", 20),
                (50, "AC_OTH", "system", "Other (manually inserted events)", 5)]


def dolibarr_events_tab(db, thirdparty_id, entity, with_types=False, donetodo=""):
    """The SQL of show_actions_done() (htdocs/core/lib/company.lib.php) for a Societe,
    as htdocs/societe/agenda.php runs it: sort a.datep,a.id DESC,DESC, limit 1000+1.
    Only change: "a.id as id" (Dolibarr writes "a.id"), since SQLite finds the bare "id"
    of the ORDER BY ambiguous once llx_c_actioncomm (which has an id) is joined."""
    sql = ("SELECT a.id as id, a.label as label, a.datep as dp, a.datep2 as dp2,"
           " a.percent as percent, 'action' as type, a.fk_element, a.elementtype, a.fk_contact,"
           + (" c.code as acode, c.libelle as alabel, c.picto as apicto," if with_types else "")
           + " u.rowid as user_id, u.login as user_login, u.firstname as user_firstname,"
           " u.lastname as user_lastname, sp.lastname, sp.firstname"
           " FROM llx_actioncomm as a"
           " LEFT JOIN llx_user as u on u.rowid = a.fk_user_action"
           + (" LEFT JOIN llx_c_actioncomm as c ON a.fk_action = c.id" if with_types else "")
           + " LEFT JOIN llx_socpeople as sp ON a.fk_contact = sp.rowid"
           f" WHERE a.entity IN ({int(entity)})"
           f" AND a.fk_soc = {int(thirdparty_id)}")
    if donetodo == "done":
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        sql += f" AND (a.percent = 100 OR (a.percent = -1 AND a.datep <= '{now}'))"
    sql += " ORDER BY dp DESC, id DESC LIMIT 1001"
    cursor = db.execute_sql(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def create_agenda_tables(db):
    """Add llx_c_actioncomm (with its standard rows) and llx_actioncomm_resources."""
    if isinstance(db, SqliteDatabase):
        statements = ddl.mysql_to_sqlite(AGENDA_TABLES)
    else:
        statements = [part.strip() for part in AGENDA_TABLES.split(";") if part.strip()]
    for statement in statements:
        db.execute_sql(statement)
    for row in ACTION_TYPES:
        db.execute_sql("INSERT INTO llx_c_actioncomm (id, code, type, libelle, position)"
                       " VALUES (%s, %s, %s, %s, %s)".replace("%s", db.param), row)


@pytest.fixture
def actor(people):
    user_id = people.user("agenda.actor", firstname="Ada", lastname="Actor")
    return Actor(user_id=user_id, login="agenda.actor", full_name="Ada Actor")


@pytest.fixture
def thirdparties(db):
    rows = (models.Thirdparty.select(models.Thirdparty.rowid)
            .where(models.Thirdparty.entity == 1)
            .order_by(models.Thirdparty.rowid).limit(4).tuples())
    ids = [row[0] for row in rows]
    assert len(ids) == 4
    return ids


def make_batch(actor, salesreps=(), contacts=(), entity=1, summary="Assigned reps"):
    """A journaled batch with sales-rep rows (fk_soc) and document-contact rows (fk_soc)."""
    batch_id = journal.start_batch(actor, entity, "assign", {"test": True}, summary)
    for number, fk_soc in enumerate(salesreps):
        BatchSalesRep.insert(batch_id=batch_id, change="+-"[number % 2], fk_soc=fk_soc,
                             fk_user=actor.user_id).execute()
    for number, fk_soc in enumerate(contacts):
        BatchContact.insert(batch_id=batch_id, change="+", element="propal",
                            element_id=1000 + number, fk_soc=fk_soc, fk_c_type_contact=31,
                            fk_socpeople=actor.user_id).execute()
    return batch_id


def events(thirdparty_id):
    return (models.AgendaEvent
            .select(models.AgendaEvent, *agenda.EXTRA_FIELDS.values())
            .where(models.AgendaEvent.fk_soc == thirdparty_id,
                   models.AgendaEvent.code == agenda.EVENT_CODE)
            .dicts())


def test_one_event_per_thirdparty_with_dolibarrs_fields(app, db, actor, thirdparties):
    first, second, third, untouched = thirdparties
    other_batch = make_batch(actor, salesreps=[untouched])
    batch_id = make_batch(actor, salesreps=[first, first, second],
                          contacts=[second, third, third, None],
                          summary="Assign Ada to 3 thirdparties")
    before = datetime.now().replace(microsecond=0)
    with db.atomic():
        written = agenda.record_events(batch_id, 1, actor, "Assign Ada to 3 thirdparties")
    assert written == 3
    assert list(events(untouched)) == []  # another batch's thirdparty
    assert other_batch != batch_id

    for thirdparty_id in (first, second, third):
        rows = list(events(thirdparty_id))
        assert len(rows) == 1, rows
        event = rows[0]
        assert event["ref"] == str(event["id"])                 # ActionComm::create(): ref = id
        assert event["entity"] == 1
        assert event["code"] == "AC_AUTOCONTACT"
        assert event["fk_action"] is None                       # no llx_c_actioncomm in the dump
        assert event["label"] == (
            f"Sales reps / follow-up contacts changed by autocontact (batch #{batch_id})")
        assert event["note"] == f"Assign Ada to 3 thirdparties\n\nautocontact batch #{batch_id}"
        assert event["percent"] == -1                           # not applicable
        assert event["fk_user_author"] == event["fk_user_action"] == actor.user_id
        assert event["fk_element"] is None and event["elementtype"] is None
        assert event["fk_contact"] is None and event["fk_project"] is None
        assert event["fulldayevent"] == 0 and event["priority"] == 0
        assert event["transparency"] == 0 and event["status"] == 0
        assert event["event_paid"] == 0 and event["location"] == ""
        assert event["visibility"] == "default"                 # table default, not written
        assert event["datep"] == event["datep2"] == event["datec"]
        assert before - timedelta(seconds=1) <= event["datep"] <= datetime.now()


def test_dolibarrs_events_tab_lists_them(app, db, actor, thirdparties):
    first, second = thirdparties[:2]
    batch_id = make_batch(actor, salesreps=[first], contacts=[second])
    with db.atomic():
        agenda.record_events(batch_id, 1, actor, "Transfer")
    later_batch = make_batch(actor, salesreps=[first])
    with db.atomic():
        agenda.record_events(later_batch, 1, actor, "Unassign")

    listed = dolibarr_events_tab(db, first, 1)
    assert [row["label"] for row in listed][:2] == [
        agenda.LABEL.format(batch_id=later_batch), agenda.LABEL.format(batch_id=batch_id)]
    assert listed[0]["user_login"] == "agenda.actor" and listed[0]["percent"] == -1
    # percent -1 with datep <= now: Dolibarr counts it as done, not to do
    assert len(dolibarr_events_tab(db, first, 1, donetodo="done")) == len(listed)
    assert dolibarr_events_tab(db, second, 1)[0]["label"] == agenda.LABEL.format(batch_id=batch_id)
    assert dolibarr_events_tab(db, first, 2) == []              # other entity

    ours = agenda.events_for(first, 1)
    assert [row["id"] for row in ours] == [row["id"] for row in listed]
    assert [row["id"] for row in agenda.events_for(first, 1, donetodo="done")] == \
        [row["id"] for row in listed]
    assert agenda.events_for(first, 1, donetodo="todo") == []
    assert ours[0]["ref"] == str(ours[0]["id"]) and ours[0]["acode"] is None


def test_statements_do_not_grow_with_thirdparties(app, db, actor, thirdparties):
    small = make_batch(actor, salesreps=[thirdparties[0]])
    large = make_batch(actor, salesreps=thirdparties * 2, contacts=thirdparties)
    counts = []
    for batch_id in (small, large):
        with db.atomic():
            with count_queries() as counter:
                agenda.record_events(batch_id, 1, actor, "Mass change")
        counts.append(counter.count)
    assert counts[0] == counts[1] == 3  # which tables exist, INSERT … SELECT, UPDATE ref


def test_runs_in_the_callers_transaction(app, db, actor, thirdparties):
    batch_id = make_batch(actor, salesreps=thirdparties[:2])
    with db.atomic() as transaction:
        assert agenda.record_events(batch_id, 1, actor, "Preview") == 2
        transaction.rollback()
    assert models.AgendaEvent.select().where(
        models.AgendaEvent.code == agenda.EVENT_CODE).count() == 0


def test_batch_without_thirdparty_writes_nothing(app, db, actor):
    batch_id = make_batch(actor, contacts=[None])
    with db.atomic():
        assert agenda.record_events(batch_id, 1, actor, "Settings only") == 0
    assert models.AgendaEvent.select().count() == 0


def test_with_dolibarrs_type_and_resource_tables(app, db, actor, thirdparties):
    """On a full Dolibarr: fk_action = AC_OTH_AUTO's id, the owner in actioncomm_resources."""
    create_agenda_tables(db)
    batch_id = make_batch(actor, salesreps=thirdparties[:3], contacts=thirdparties[:1])
    with db.atomic():
        with count_queries() as counter:
            assert agenda.record_events(batch_id, 1, actor, "Assign") == 3
    assert counter.count == 4

    listed = dolibarr_events_tab(db, thirdparties[0], 1, with_types=True)
    assert [(row["acode"], row["alabel"]) for row in listed] == [
        ("AC_OTH_AUTO", "Other (automatically inserted events)")]
    assert agenda.events_for(thirdparties[0], 1)[0]["acode"] == "AC_OTH_AUTO"
    assert {row["fk_action"] for row in events(thirdparties[1])} == {40}
    resources = db.execute_sql(
        "SELECT r.fk_actioncomm, r.element_type, r.fk_element, r.mandatory, r.transparency,"
        " r.answer_status FROM llx_actioncomm_resources AS r"
        " JOIN llx_actioncomm AS a ON a.id = r.fk_actioncomm ORDER BY a.fk_soc").fetchall()
    ids = [row["id"] for tid in thirdparties[:3] for row in events(tid)]
    assert [tuple(row) for row in resources] == [
        (event_id, "user", actor.user_id, 0, 0, "0") for event_id in ids]
