"""Undo a batch: put back what it removed, take away what it added.

Set-based and in one transaction, like the change itself; the undo is a batch
of its own, journaled the same way. Rows changed since the batch (by a later
batch or by someone in Dolibarr) are conflicts: left alone unless forced.
Restored rows get their original row ids back.
"""
import operator
from dataclasses import dataclass, field
from functools import reduce

from flask_babel import gettext as _
from peewee import SqliteDatabase, Value, fn

from ..dolibarr import doctypes
from ..dolibarr.models import (
    DOCUMENT_MODELS,
    Constant,
    ElementContact,
    SalesRepLink,
    Thirdparty,
    User,
    database,
)
from ..dolibarr.tool_tables import Batch, BatchContact, BatchSalesRep, BatchSetting
from ..i18n import LABELS
from . import agenda as agenda_service
from . import journal, permissions

CONFLICT_LIST_LIMIT = 200
ACTIVE = 4  # the element_contact status the tool writes


class UndoRefused(Exception):
    """The batch cannot be undone (already undone, or nothing of it left)."""


@dataclass
class UndoOutcome:
    batch_id: int | None
    rows_restored: int
    conflicts: list = field(default_factory=list)
    conflict_count: int = 0

    def as_dict(self):
        return {"batch_id": self.batch_id, "rows_restored": self.rows_restored,
                "conflicts": self.conflicts, "conflict_count": self.conflict_count}


def undo(actor, batch_id, entity, schema, dry_run=False, force=False, agenda=None):
    """Undo batch ``batch_id``; raise LookupError if unknown, UndoRefused if already undone."""
    original = Batch.get_or_none(Batch.id == batch_id, Batch.entity == entity)
    if original is None:
        raise LookupError(_("There is no batch #%(id)s in this company.", id=batch_id))
    permissions.require(actor, permissions.MANAGER if original.action == "settings"
                        else permissions.EDITOR)
    if original.action == "undo":
        raise UndoRefused(_("Batch #%(id)s is an undo: to redo the change, run it again.",
                             id=batch_id))
    with database.atomic() as transaction:
        # Read the state again under a row lock: two undos at once cannot both pass.
        state = (Batch.select(Batch.state).where(Batch.id == batch_id).for_update().scalar()
                 if not isinstance(database.obj, SqliteDatabase) else original.state)
        if state != "applied":
            raise UndoRefused(_("Batch #%(id)s has already been undone (%(state)s).", id=batch_id,
                                 state=LABELS.get(state, state)))
        undo_id = journal.start_batch(actor, entity, "undo", {"undo_of": batch_id, "force": force},
                                      _("Undo of #%(id)s: %(summary)s", id=batch_id,
                                        summary=original.summary), undo_of=batch_id)
        conflicts = (_salesreps(batch_id, undo_id, schema, force)
                     + _contacts(batch_id, undo_id, force)
                     + _settings(batch_id, undo_id, entity, force))
        counts = _counts(undo_id)
        restored = sum(counts.values())
        counts.pop("settings")
        Batch.update(rows_changed=restored, **counts).where(Batch.id == undo_id).execute()
        Batch.update(state="partly_undone" if conflicts else "undone").where(
            Batch.id == batch_id).execute()
        if restored and not dry_run and agenda_service.wanted(agenda, entity):
            agenda_service.record_events(undo_id, entity, actor,
                                         f"Undo of #{batch_id}: {original.summary}")
        outcome = UndoOutcome(batch_id=undo_id, rows_restored=restored,
                              conflicts=conflicts[:CONFLICT_LIST_LIMIT],
                              conflict_count=len(conflicts))
        if dry_run or not restored:
            transaction.rollback()
            outcome.batch_id = None
    return outcome


def _counts(undo_id):
    def count(model, change):
        return model.select().where(model.batch_id == undo_id, model.change == change).count()
    return {"links_added": count(BatchSalesRep, "+"), "links_removed": count(BatchSalesRep, "-"),
            "contacts_added": count(BatchContact, "+"),
            "contacts_removed": count(BatchContact, "-"),
            "settings": BatchSetting.select().where(BatchSetting.batch_id == undo_id).count()}


# --- sales-rep links -----------------------------------------------------------

def _salesreps(batch_id, undo_id, schema, force):
    Original = BatchSalesRep.alias("o")
    type_code = SalesRepLink.type_code if schema.salesrep_type_code else Value(None)
    same_link = ((SalesRepLink.rowid == Original.link_rowid)
                 & (SalesRepLink.fk_soc == Original.fk_soc)
                 & (SalesRepLink.fk_user == Original.fk_user))
    same_pair = ((SalesRepLink.fk_soc == Original.fk_soc)
                 & (SalesRepLink.fk_user == Original.fk_user))
    still_there = (fn.EXISTS(Thirdparty.select(Thirdparty.rowid)
                             .where(Thirdparty.rowid == Original.fk_soc))
                   & fn.EXISTS(User.select(User.rowid).where(User.rowid == Original.fk_user)))
    conflicts = [
        {"kind": "link", "reason": "removed by the batch; the thirdparty or user is gone since",
         "thirdparty_id": soc, "user_id": user}
        for soc, user in Original.select(Original.fk_soc, Original.fk_user).where(
            Original.batch_id == batch_id, Original.change == "-", ~still_there).tuples()
    ] + [
        {"kind": "link", "reason": "added by the batch, removed since", "thirdparty_id": soc,
         "user_id": user}
        for soc, user in Original.select(Original.fk_soc, Original.fk_user).where(
            Original.batch_id == batch_id, Original.change == "+",
            ~fn.EXISTS(SalesRepLink.select(SalesRepLink.rowid).where(same_link))).tuples()
    ] + [
        {"kind": "link", "reason": "removed by the batch, added again since",
         "thirdparty_id": soc, "user_id": user}
        for soc, user in Original.select(Original.fk_soc, Original.fk_user).where(
            Original.batch_id == batch_id, Original.change == "-",
            fn.EXISTS(SalesRepLink.select(SalesRepLink.rowid).where(same_pair))).tuples()
    ]
    columns = [BatchSalesRep.batch_id, BatchSalesRep.change, BatchSalesRep.link_rowid,
               BatchSalesRep.fk_soc, BatchSalesRep.fk_user, BatchSalesRep.import_key,
               BatchSalesRep.type_code]
    current = (SalesRepLink.select(Value(undo_id), Value("-"), SalesRepLink.rowid,
                                   SalesRepLink.fk_soc, SalesRepLink.fk_user,
                                   SalesRepLink.import_key, type_code))
    # What the batch added and is still there: take it away.
    BatchSalesRep.insert_from(
        current.join(Original, on=same_link)
        .where(Original.batch_id == batch_id, Original.change == "+"), columns).execute()
    if force:  # what was added again since the batch removed it gives way to the original
        BatchSalesRep.insert_from(
            current.join(Original, on=same_pair)
            .where(Original.batch_id == batch_id, Original.change == "-"), columns).execute()
    journal.delete_journaled(SalesRepLink, BatchSalesRep, BatchSalesRep.link_rowid, undo_id, "-")
    # What the batch removed: put it back, with its row id, where nothing took its place.
    BatchSalesRep.insert_from(
        Original.select(Value(undo_id), Value("+"), Original.link_rowid, Original.fk_soc,
                        Original.fk_user, Original.import_key, Original.type_code)
        .where(Original.batch_id == batch_id, Original.change == "-", still_there,
               ~fn.EXISTS(SalesRepLink.select(SalesRepLink.rowid).where(same_pair)),
               ~fn.EXISTS(SalesRepLink.select(SalesRepLink.rowid).where(
                   SalesRepLink.rowid == Original.link_rowid))), columns).execute()
    restored = BatchSalesRep.select(BatchSalesRep.link_rowid, BatchSalesRep.fk_soc,
                                    BatchSalesRep.fk_user, BatchSalesRep.import_key).where(
        BatchSalesRep.batch_id == undo_id, BatchSalesRep.change == "+")
    link_columns = [SalesRepLink.rowid, SalesRepLink.fk_soc, SalesRepLink.fk_user,
                    SalesRepLink.import_key]
    if schema.salesrep_type_code:
        restored = restored.select_extend(fn.COALESCE(BatchSalesRep.type_code, "SALESREPTHIRD"))
        link_columns.append(SalesRepLink.type_code)
    SalesRepLink.insert_from(restored, link_columns).execute()
    return [c for c in conflicts if "gone since" in c["reason"]] if force else conflicts


# --- document contacts ---------------------------------------------------------

def _contacts(batch_id, undo_id, force):
    Original = BatchContact.alias("o")
    same_key = ((ElementContact.element_id == Original.element_id)
                & (ElementContact.fk_c_type_contact == Original.fk_c_type_contact)
                & (ElementContact.fk_socpeople == Original.fk_socpeople))
    as_written = same_key & (ElementContact.rowid == Original.ec_rowid)
    if not force:
        as_written &= (ElementContact.statut == ACTIVE)
    document_exists = reduce(operator.or_, (
        (Original.element == doc_type.element) & fn.EXISTS(
            DOCUMENT_MODELS[doc_type.element].select(DOCUMENT_MODELS[doc_type.element].rowid)
            .where(DOCUMENT_MODELS[doc_type.element].rowid == Original.element_id))
        for doc_type in doctypes.DOC_TYPES))
    conflicts = [
        {"kind": "contact", "reason": "removed by the batch; the document is gone since",
         "element": element, "document_id": doc, "user_id": user}
        for element, doc, user in Original.select(Original.element, Original.element_id,
                                                  Original.fk_socpeople).where(
            Original.batch_id == batch_id, Original.change == "-", ~document_exists).tuples()
    ] + [
        {"kind": "contact", "reason": "added by the batch, removed or changed since",
         "element": element, "document_id": doc, "user_id": user}
        for element, doc, user in Original.select(Original.element, Original.element_id,
                                                  Original.fk_socpeople).where(
            Original.batch_id == batch_id, Original.change == "+",
            ~fn.EXISTS(ElementContact.select(ElementContact.rowid).where(as_written))).tuples()
    ] + [
        {"kind": "contact", "reason": "removed by the batch, added again since",
         "element": element, "document_id": doc, "user_id": user}
        for element, doc, user in Original.select(Original.element, Original.element_id,
                                                  Original.fk_socpeople).where(
            Original.batch_id == batch_id, Original.change == "-",
            fn.EXISTS(ElementContact.select(ElementContact.rowid).where(same_key))).tuples()
    ]
    columns = [BatchContact.batch_id, BatchContact.change, BatchContact.ec_rowid,
               BatchContact.element, BatchContact.element_id, BatchContact.fk_soc,
               BatchContact.fk_c_type_contact, BatchContact.fk_socpeople, BatchContact.statut,
               BatchContact.datecreate]
    current = ElementContact.select(
        Value(undo_id), Value("-"), ElementContact.rowid, Original.element,
        ElementContact.element_id, Original.fk_soc, ElementContact.fk_c_type_contact,
        ElementContact.fk_socpeople, ElementContact.statut, ElementContact.datecreate)
    BatchContact.insert_from(
        current.join(Original, on=as_written)
        .where(Original.batch_id == batch_id, Original.change == "+"), columns).execute()
    if force:
        BatchContact.insert_from(
            current.join(Original, on=same_key)
            .where(Original.batch_id == batch_id, Original.change == "-"), columns).execute()
    journal.delete_journaled(ElementContact, BatchContact, BatchContact.ec_rowid, undo_id, "-")
    BatchContact.insert_from(
        Original.select(Value(undo_id), Value("+"), Original.ec_rowid, Original.element,
                        Original.element_id, Original.fk_soc, Original.fk_c_type_contact,
                        Original.fk_socpeople, Original.statut, Original.datecreate)
        .where(Original.batch_id == batch_id, Original.change == "-", document_exists,
               ~fn.EXISTS(ElementContact.select(ElementContact.rowid).where(same_key)),
               ~fn.EXISTS(ElementContact.select(ElementContact.rowid).where(
                   ElementContact.rowid == Original.ec_rowid))), columns).execute()
    ElementContact.insert_from(
        BatchContact.select(BatchContact.ec_rowid, BatchContact.datecreate, BatchContact.statut,
                            BatchContact.element_id, BatchContact.fk_c_type_contact,
                            BatchContact.fk_socpeople)
        .where(BatchContact.batch_id == undo_id, BatchContact.change == "+"),
        [ElementContact.rowid, ElementContact.datecreate, ElementContact.statut,
         ElementContact.element_id, ElementContact.fk_c_type_contact,
         ElementContact.fk_socpeople]).execute()
    return [c for c in conflicts if "gone since" in c["reason"]] if force else conflicts


# --- settings ------------------------------------------------------------------

def _settings(batch_id, undo_id, entity, force):
    """Constants back to their values before the batch (a handful of rows at most)."""
    changes = list(BatchSetting.select().where(BatchSetting.batch_id == batch_id))
    if not changes:
        return []
    names = [change.name for change in changes]
    now = {row.name: row for row in Constant.select().where(Constant.name.in_(names),
                                                            Constant.entity == entity)}
    conflicts, safe = [], []
    for change in changes:
        current = now[change.name].value if change.name in now else None
        if current != change.new_value and not force:
            conflicts.append({"kind": "setting", "name": change.name,
                              "reason": "changed again since", "value_now": current})
        else:
            safe.append(change)
    if safe:
        BatchSetting.insert_many([
            {"batch_id": undo_id, "name": c.name,
             "old_rowid": now[c.name].rowid if c.name in now else None,
             "old_value": now[c.name].value if c.name in now else None,
             "new_value": c.old_value} for c in safe]).execute()
        Constant.delete().where(Constant.name.in_([c.name for c in safe]),
                                Constant.entity == entity).execute()
        rows = [{"rowid": c.old_rowid, "name": c.name, "entity": entity, "value": c.old_value,
                 "type": "chaine", "visible": 0, "note": "Set by autocontact"}
                for c in safe if c.old_value is not None]
        if rows:
            Constant.insert_many(rows).execute()
    return conflicts
