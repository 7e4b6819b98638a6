"""The journal: every operation is a batch with the exact rows it changed.

Batches are written in the same transaction as the change they record.
"""
import json
from datetime import datetime

from peewee import JOIN

from ..dolibarr.models import Constant
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
