"""The journal: every operation is a batch with the exact rows it changed.

Batches are written in the same transaction as the change they record.
"""
import json
from datetime import datetime

from peewee import JOIN, MySQLDatabase, Node

from ..dolibarr.models import Constant, database
from ..dolibarr.tool_tables import Batch, BatchSetting


def start_batch(actor, entity, action, params, summary, rows_changed=0, undo_of=None):
    """Insert the batch row and return its id (the caller holds the transaction)."""
    return Batch.insert(
        entity=entity,
        created_at=datetime.now().replace(microsecond=0),
        user_id=actor.user_id,
        user_login=actor.login,
        action=action,
        params=json.dumps(params, ensure_ascii=False, default=str, sort_keys=True),
        summary=summary,
        rows_changed=rows_changed,
        undo_of=undo_of,
    ).execute()


# --- journal-driven statements on Dolibarr's tables ------------------------------
#
# The journal rows of a batch name Dolibarr rows by row id. MariaDB before 11.1 (Debian
# 12 ships 10.11) runs a single-table ``DELETE ... WHERE rowid IN (SELECT ... FROM
# journal)`` without semi-join: it reads the whole Dolibarr table (a million
# element_contact rows) and probes the subquery per row. Written as a multi-table DELETE
# driven by the batch's journal rows it reads only those rows and reaches each Dolibarr
# row by its primary key. SQLite plans the portable form that way by itself (and has no
# multi-table DELETE), so it keeps it.

def on_mysql():
    return isinstance(database.obj, MySQLDatabase)


def _name(node):
    """A table or column name (str or field), quoted for MySQL/MariaDB."""
    return f"`{node if isinstance(node, str) else node.column_name}`"


class _PrimaryKeyScan(Node):
    """A table in FROM, read by its primary key (MariaDB's FORCE INDEX)."""

    def __init__(self, model):
        self.model = model

    def __sql__(self, ctx):
        return ctx.sql(self.model).literal(" FORCE INDEX (PRIMARY)")


def by_primary_key(model):
    """``model`` as a FROM source whose rows are to be found by a range of row ids.

    Rows an operation has just inserted are not in MariaDB's statistics yet: it would
    rather reach them through an index on a column of the conditions (such as every link
    of one type code) than by the range of their ids (SQLite chooses the range itself)."""
    return _PrimaryKeyScan(model) if on_mysql() else model


def delete_journaled(target, journal_model, row_id, batch_id, change):
    """Delete the rows of ``target`` whose row ids the ``row_id`` column of the batch's
    journal rows with ``change`` ('-' or '+') names: one statement."""
    this_batch = ((journal_model.batch_id == batch_id) & (journal_model.change == change))
    if not on_mysql():
        (target.delete()
         .where(target._meta.primary_key.in_(journal_model.select(row_id).where(this_batch)))
         .execute())
        return
    database.execute_sql(
        f"DELETE x FROM {_name(journal_model._meta.table_name)} AS j "
        f"JOIN {_name(target._meta.table_name)} AS x "
        f"ON x.{_name(target._meta.primary_key)} = j.{_name(row_id)} "
        f"WHERE j.{_name('batch_id')} = %s AND j.{_name('change')} = %s", (batch_id, change))


def record_settings(batch_id, entity, changed):
    """Record the constants about to change, with their current rows: two statements."""
    before = {row.name: row for row in Constant.select(Constant.rowid, Constant.name, Constant.value)
              .where(Constant.name.in_(list(changed)), Constant.entity == entity)}
    BatchSetting.insert_many([
        {"batch_id": batch_id, "name": name,
         "old_rowid": before[name].rowid if name in before else None,
         "old_value": before[name].value if name in before else None,
         "new_value": value if value not in (None, "") else None}
        for name, value in changed.items()
    ]).execute()


def settings_changes(batch_id):
    return list(BatchSetting.select().where(BatchSetting.batch_id == batch_id)
                .order_by(BatchSetting.name).dicts())


ACTIONS = ("assign", "unassign", "clear", "transfer", "documents_sync", "documents_replace",
           "settings", "undo")


def find_batches(entity, user=None, action=None, since=None, until=None, thirdparty_id=None):
    """Batches newest first, filtered; ``since``/``until`` are dates (inclusive)."""
    from ..dolibarr.tool_tables import BatchContact, BatchSalesRep
    query = Batch.select().where(Batch.entity == entity)
    if user:
        query = query.where(Batch.user_login == user)
    if action:
        query = query.where(Batch.action == action)
    if since:
        query = query.where(Batch.created_at >= since.isoformat())
    if until:
        query = query.where(Batch.created_at <= f"{until.isoformat()} 23:59:59")
    if thirdparty_id:
        touched = (BatchSalesRep.select(BatchSalesRep.batch_id)
                   .where(BatchSalesRep.fk_soc == thirdparty_id)
                   | BatchContact.select(BatchContact.batch_id)
                   .where(BatchContact.fk_soc == thirdparty_id))
        query = query.where(Batch.id.in_(touched))
    return query.order_by(Batch.id.desc())


def batch_summary(batch):
    """The JSON shape of a batch in the API."""
    return {"id": batch.id, "created_at": str(batch.created_at), "user": batch.user_login,
            "user_id": batch.user_id, "action": batch.action, "summary": batch.summary,
            "state": batch.state, "undo_of": batch.undo_of,
            "params": json.loads(batch.params or "{}"),
            "counts": {"thirdparties": batch.thirdparties, "links_added": batch.links_added,
                       "links_removed": batch.links_removed,
                       "documents_changed": batch.documents_changed,
                       "contacts_added": batch.contacts_added,
                       "contacts_removed": batch.contacts_removed,
                       "rows_changed": batch.rows_changed}}


def batch_rows(batch_id, limit=500, offset=0):
    """Every row a batch added or removed, names and refs joined in: a fixed set of queries."""
    from ..dolibarr import doctypes
    from ..dolibarr.models import DOCUMENT_MODELS, ContactType, Thirdparty, User
    from ..dolibarr.tool_tables import BatchContact, BatchSalesRep
    links = [
        {"kind": "salesrep", "change": "added" if row["change"] == "+" else "removed",
         "thirdparty_id": row["fk_soc"], "thirdparty": row["thirdparty_name"],
         "user_id": row["fk_user"], "user": row["user_login"], "contact_type": row["type_code"],
         "row_id": row["link_rowid"], "document": None, "document_id": None, "element": None}
        for row in BatchSalesRep.select(BatchSalesRep, Thirdparty.name.alias("thirdparty_name"),
                                        User.login.alias("user_login"))
        .join(Thirdparty, JOIN.LEFT_OUTER, on=(Thirdparty.rowid == BatchSalesRep.fk_soc))
        .join(User, JOIN.LEFT_OUTER, on=(User.rowid == BatchSalesRep.fk_user), src=BatchSalesRep)
        .where(BatchSalesRep.batch_id == batch_id)
        .order_by(BatchSalesRep.id).limit(limit).offset(offset).dicts()]
    contacts = list(
        BatchContact.select(BatchContact, Thirdparty.name.alias("thirdparty_name"),
                            User.login.alias("user_login"), ContactType.code.alias("code"))
        .join(Thirdparty, JOIN.LEFT_OUTER, on=(Thirdparty.rowid == BatchContact.fk_soc))
        .join(User, JOIN.LEFT_OUTER, on=(User.rowid == BatchContact.fk_socpeople),
              src=BatchContact)
        .join(ContactType, JOIN.LEFT_OUTER,
              on=(ContactType.rowid == BatchContact.fk_c_type_contact), src=BatchContact)
        .where(BatchContact.batch_id == batch_id)
        .order_by(BatchContact.id).limit(limit).offset(offset).dicts())
    refs = {}
    for doc_type in doctypes.DOC_TYPES:  # one query per type, whatever the number of rows
        ids = {row["element_id"] for row in contacts if row["element"] == doc_type.element}
        if ids:
            model = DOCUMENT_MODELS[doc_type.element]
            refs.update({(doc_type.element, rowid): ref for rowid, ref in
                         model.select(model.rowid, model.ref).where(model.rowid.in_(ids)).tuples()})
    documents = [
        {"kind": "contact", "change": "added" if row["change"] == "+" else "removed",
         "thirdparty_id": row["fk_soc"], "thirdparty": row["thirdparty_name"],
         "user_id": row["fk_socpeople"], "user": row["user_login"], "contact_type": row["code"],
         "row_id": row["ec_rowid"], "element": row["element"], "document_id": row["element_id"],
         "document": refs.get((row["element"], row["element_id"]))}
        for row in contacts]
    settings = [
        {"kind": "setting", "change": "changed", "name": row["name"], "before": row["old_value"],
         "after": row["new_value"]}
        for row in settings_changes(batch_id)]
    return links + documents + settings
