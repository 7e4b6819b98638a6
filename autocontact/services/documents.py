"""The document engine: make the follow-up contacts of documents match the
current sales reps of their thirdparty (sync), or replace user A by user B.

One engine serves the thirdparty dialog, the list's mass actions, the API and
the command line. For any number of thirdparties and documents it is one
transaction with a fixed number of set-based statements: two per document
type (journal what goes, find what comes) and a few in all (delete, insert,
journal the inserted rows with their row ids, count). Only contacts of the
configured internal contact type are touched; external contacts and other roles
stay as they are.
"""
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from peewee import JOIN, Value, fn

from ..dolibarr import doctypes
from ..dolibarr.models import (
    DOCUMENT_MODELS,
    ContactType,
    ElementContact,
    SalesRepLink,
    Thirdparty,
    User,
    database,
)
from ..dolibarr.tool_tables import Batch, BatchContact, PendingContact, PreviewSelection
from . import agenda as agenda_service
from . import journal, permissions, salesreps
from .directory import count_if, user_entities
from .salesreps import InvalidRequest

MODES = ("sync", "replace")
STATUS_SCOPES = ("all", "open")
ACTIVE_LINK_STATUS = 4   # llx_element_contact.statut as CommonObject::add_contact writes it


@dataclass
class DocumentRequest:
    selection: salesreps.Request
    date_from: date
    date_to: date
    doc_types: tuple                 # DocType entries
    contact_types: dict              # element -> llx_c_type_contact.rowid
    contact_codes: dict              # element -> its code (SALESREPFOLL, ...)
    date_fields: dict                # element -> column name deciding the period
    closed: dict                     # element -> statuses left alone in "open" scope
    mode: str = "sync"
    statuses: str = "all"
    from_user_id: int | None = None
    to_user_id: int | None = None

    def params(self, with_selection=True):
        body = {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(),
                "doc_types": [d.element for d in self.doc_types], "mode": self.mode,
                "statuses": self.statuses, "from_user_id": self.from_user_id,
                "to_user_id": self.to_user_id}
        return {**self.selection.selection_params(), **body} if with_selection else body


@dataclass
class DocumentOutcome:
    batch_id: int | None
    per_type: dict = field(default_factory=dict)
    thirdparties_without_rep: int = 0
    documents: list = field(default_factory=list)   # a page of changed documents, for previews

    def total(self, key):
        return sum(values[key] for values in self.per_type.values())

    def as_dict(self):
        return {
            "batch_id": self.batch_id,
            "documents_examined": self.total("examined"),
            "documents_changed": self.total("changed"),
            "contacts_added": self.total("added"),
            "contacts_removed": self.total("removed"),
            "per_type": self.per_type,
            "thirdparties_without_active_rep": self.thirdparties_without_rep,
        }


# --- validation ----------------------------------------------------------------

def _date(payload, name):
    value = payload.get(name)
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise InvalidRequest(_("'%(name)s' must be a date written YYYY-MM-DD.", name=name), name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(_("'%(name)s' is not a real date: %(value)s.", name=name, value=value),
                             name) from None


def parse_request(payload, entity, settings, selection=None):
    """Validate an API payload (or the dialog's fields) into a DocumentRequest.

    ``selection``: thirdparties already chosen (the mass actions' cascade);
    otherwise the payload's ``thirdparty_ids`` or ``filter``.
    """
    if not isinstance(payload, dict):
        raise InvalidRequest(_("Send a JSON object."))
    if "dry_run" in payload and not isinstance(payload["dry_run"], bool):
        raise InvalidRequest(_("'%(name)s' must be true or false.", name="dry_run"), "dry_run")
    date_from, date_to = _date(payload, "date_from"), _date(payload, "date_to")
    if date_to < date_from:
        raise InvalidRequest(_("'date_to' is before 'date_from'."), "date_to")
    mode = payload.get("mode", "sync")
    if mode not in MODES:
        raise InvalidRequest(_("'mode' must be 'sync' or 'replace'."), "mode")
    statuses = payload.get("statuses", "all")
    if statuses not in STATUS_SCOPES:
        raise InvalidRequest(_("'statuses' must be 'all' or 'open'."), "statuses")
    elements = payload.get("doc_types")
    if not isinstance(elements, list) or not elements:
        raise InvalidRequest(_("'doc_types' must list at least one document type."), "doc_types")
    chosen = []
    for element in elements:
        doc_type = doctypes.get(element) if isinstance(element, str) else None
        if doc_type is None:
            raise InvalidRequest(_("Unknown document type '%(type)s'.", type=str(element)[:40]),
                                 "doc_types")
        if not settings.doc_types[element].enabled:
            raise InvalidRequest(_("%(label)s (%(element)s) is disabled in setup.",
                                   label=doc_type.label, element=element), "doc_types")
        if not settings.available(element):  # Dolibarr's module is off and setup does not force it
            raise InvalidRequest(settings.unavailable_reason(element), "doc_types")
        if doc_type not in chosen:
            chosen.append(doc_type)
    codes = {d.element: settings.doc_types[d.element].contact_type for d in chosen}
    found = {(row.element, row.code): row.rowid for row in ContactType.select().where(
        ContactType.element.in_(list(codes)), ContactType.source == "internal",
        ContactType.active == 1)}
    contact_types = {}
    for doc_type in chosen:
        key = (doc_type.element, codes[doc_type.element])
        if key not in found:
            raise InvalidRequest(
                _("The contact type %(code)s of %(label)s is not an active internal type in "
                  "Dolibarr's dictionary: fix it in setup.", code=codes[doc_type.element],
                  label=doc_type.label), "doc_types")
        contact_types[doc_type.element] = found[key]

    selection = selection or salesreps.parse_selection(payload, entity)
    request = DocumentRequest(
        selection=selection, date_from=date_from, date_to=date_to, doc_types=tuple(chosen),
        contact_types=contact_types, contact_codes=codes, mode=mode, statuses=statuses,
        date_fields={d.element: (d.date_column if settings.doc_types[d.element].date_field ==
                                 "document" and d.date_column else d.creation_date_column)
                     for d in chosen},
        closed={d.element: tuple(settings.doc_types[d.element].closed_statuses) for d in chosen},
    )
    if mode == "replace":
        for name in ("from_user_id", "to_user_id"):
            if payload.get(name) in (None, ""):
                raise InvalidRequest(_("Replace mode needs '%(name)s'.", name=name), name)
        request.from_user_id = salesreps._int(payload["from_user_id"], "from_user_id", "'from_user_id'")
        request.to_user_id = salesreps._int(payload["to_user_id"], "to_user_id", "'to_user_id'")
        users = salesreps._users((request.from_user_id, request.to_user_id), entity)
        if request.from_user_id not in users:
            raise InvalidRequest(_("User %(id)s does not exist in this company.",
                                   id=request.from_user_id), "from_user_id")
        salesreps._check_target(users.get(request.to_user_id), request.to_user_id, "to_user_id")
        if request.from_user_id == request.to_user_id:
            raise InvalidRequest(_("Replace by a different user."), "to_user_id")
    return request


# --- the predicates, shared by the engine and the consistency figures ----------

def _active_reps(entity):
    """Sales-rep links whose user is an active internal user of the entity."""
    return (SalesRepLink.select(SalesRepLink.fk_soc, SalesRepLink.fk_user)
            .join(User, on=(User.rowid == SalesRepLink.fk_user))
            .where(User.statut == 1, User.internal(),
                   User.entity.in_(user_entities(entity))))


def _has_active_rep(document, entity):
    links = _active_reps(entity).where(SalesRepLink.fk_soc == document.fk_soc)
    return fn.EXISTS(links)


def in_period(model, column, date_from, date_to):
    """Dated from ``date_from`` to ``date_to`` inclusive, for DATE and DATETIME columns."""
    field_ = model._meta.columns[column]
    # Bounds as plain text, not converted by the DateTimeField: on SQLite a DATE stored as
    # '2024-01-01' must compare >= '2024-01-01', not with '2024-01-01 00:00:00'.
    return ((field_ >= Value(date_from.isoformat(), converter=False))
            & (field_ <= Value(f"{date_to.isoformat()} 23:59:59", converter=False)))


def _closed_statuses(model, request):
    """The statuses left alone in this request ([] when every status is in scope)."""
    if request.statuses != "open":
        return []
    return list(request.closed[model.doc_type.element])


def _scope(model, request, entity, selected):
    """Documents of the selected thirdparties, in the period, in the status scope."""
    element = model.doc_type.element
    condition = ((model.entity == entity) & model.fk_soc.in_(selected)
                 & in_period(model, request.date_fields[element], request.date_from,
                             request.date_to))
    closed = _closed_statuses(model, request)
    if closed:
        condition &= (model.status.is_null() | model.status.not_in(closed))
    return condition


def _removals(model, request, entity, selected):
    """The follow-up contacts of one type that go: a query on the documents joined to
    their contacts (the caller picks the columns)."""
    contact_type = request.contact_types[model.doc_type.element]
    # CROSS JOIN: SQLite, without statistics, would otherwise start from all the
    # contacts of the type; it takes the documents of the selection first this way
    # (MariaDB plans it as the inner join it is).
    query = (model.select()
             .join(ElementContact, JOIN.CROSS)
             .where(ElementContact.element_id == model.rowid,
                    ElementContact.fk_c_type_contact == contact_type,
                    _scope(model, request, entity, selected)))
    if request.mode == "replace":
        return query.where(ElementContact.fk_socpeople == request.from_user_id)
    wanted = _active_reps(entity).where(SalesRepLink.fk_soc == model.fk_soc,
                                        SalesRepLink.fk_user == ElementContact.fk_socpeople)
    return query.where(_has_active_rep(model, entity), ~fn.EXISTS(wanted))


def _not_following(document_id, contact_type, person):
    return ~fn.EXISTS(ElementContact.select(ElementContact.rowid).where(
        ElementContact.element_id == document_id,
        ElementContact.fk_c_type_contact == contact_type,
        ElementContact.fk_socpeople == person))


def _sync_additions(model, request, entity, selected, *columns):
    """Sync: each document's active reps that do not follow it yet, one row per
    (document, user): a query on the documents selecting ``columns`` (SalesRepLink.fk_user
    is the user)."""
    contact_type = request.contact_types[model.doc_type.element]
    return (model.select(*columns)
            .join(SalesRepLink, on=(SalesRepLink.fk_soc == model.fk_soc))
            .join(User, on=(User.rowid == SalesRepLink.fk_user))
            .where(_scope(model, request, entity, selected),
                   User.statut == 1, User.internal(), User.entity.in_(user_entities(entity)),
                   _not_following(model.rowid, contact_type, SalesRepLink.fk_user))
            .distinct())   # a user may hold several links to a thirdparty (Dolibarr 20+)


# Removals and additions of a request never concern the same person (sync removes
# non-reps and adds reps, replace removes A and adds B), so the additions found before
# or after the removals are the same: the preview reads both without changing anything.

def _journal_removals(batch_id, model, request, entity, selected):
    query = _removals(model, request, entity, selected).select(
        Value(batch_id), Value("-"), ElementContact.rowid, Value(model.doc_type.element),
        ElementContact.element_id, model.fk_soc, ElementContact.fk_c_type_contact,
        ElementContact.fk_socpeople, ElementContact.statut, ElementContact.datecreate)
    BatchContact.insert_from(query, [
        BatchContact.batch_id, BatchContact.change, BatchContact.ec_rowid, BatchContact.element,
        BatchContact.element_id, BatchContact.fk_soc, BatchContact.fk_c_type_contact,
        BatchContact.fk_socpeople, BatchContact.statut, BatchContact.datecreate]).execute()


def _pending_additions(batch_id, model, request, entity, selected):
    """The contacts of one type to add, into PendingContact."""
    element = model.doc_type.element
    contact_type = request.contact_types[element]
    if request.mode == "replace":  # where A was removed (the journal says where)
        Removed = BatchContact.alias("r")
        query = (Removed
                 .select(Value(element), Removed.element_id, Removed.fk_soc,
                         Value(contact_type), Value(request.to_user_id))
                 .where(Removed.batch_id == batch_id, Removed.change == "-",
                        Removed.element == element,
                        _not_following(Removed.element_id, contact_type, request.to_user_id)))
    else:
        query = _sync_additions(model, request, entity, selected, Value(element), model.rowid,
                                model.fk_soc, Value(contact_type), SalesRepLink.fk_user)
    PendingContact.insert_from(query, [
        PendingContact.element, PendingContact.element_id, PendingContact.fk_soc,
        PendingContact.fk_c_type_contact, PendingContact.fk_socpeople]).execute()


def _changes(model, request, entity, selected, document_ids=None):
    """Read-only: what an update would remove ('-') and add ('+') for one type, as one
    query of (change, element_id, person); ``document_ids`` narrows it to some documents."""
    element = model.doc_type.element
    contact_type = request.contact_types[element]
    removals = _removals(model, request, entity, selected)
    if document_ids is not None:
        removals = removals.where(model.rowid.in_(document_ids))
    removed = removals.select(Value("-").alias("change"), ElementContact.element_id,
                              ElementContact.fk_socpeople.alias("person"))
    if request.mode == "replace":  # where A goes, unless B follows it already
        added = removals.select(Value("+"), ElementContact.element_id,
                                Value(request.to_user_id)).where(
            _not_following(ElementContact.element_id, contact_type, request.to_user_id))
    else:
        added = _sync_additions(model, request, entity, selected, Value("+"), model.rowid,
                                SalesRepLink.fk_user)
        if document_ids is not None:
            added = added.where(model.rowid.in_(document_ids))
    return removed + added   # UNION ALL


def _type_counts(model, request, entity, selected):
    """Examined, skipped by status and undated documents of one type: one query."""
    element = model.doc_type.element
    column = model._meta.columns[request.date_fields[element]]
    period = in_period(model, request.date_fields[element], request.date_from, request.date_to)
    closed = _closed_statuses(model, request)
    if closed:
        is_closed = model.status.is_null(False) & model.status.in_(closed)
        examined, skipped = count_if(period & ~is_closed), count_if(period & is_closed)
    else:
        examined, skipped = count_if(period), Value(0)
    row = (model.select(examined.alias("examined"), skipped.alias("skipped_status"),
                        count_if(column.is_null()).alias("without_date"))
           .where(model.entity == entity, model.fk_soc.in_(selected)).dicts().get())
    return {key: int(value or 0) for key, value in row.items()}


def run(actor, request, entity, dry_run=False, page=1, per_page=50, agenda=None,
        progress=None):
    """Apply (or with dry_run, preview) the document update; return the outcome.

    Dry runs are previews (``preview``, which writes nothing): viewers may make them,
    only editors apply. ``agenda``: also write one event per changed thirdparty in
    Dolibarr's agenda.
    """
    if dry_run:
        return preview(request, entity, page, per_page)
    permissions.require(actor, permissions.EDITOR)
    with database.atomic() as transaction:
        batch_id = journal.start_batch(
            actor, entity, f"documents_{request.mode}", request.params(),
            _summary(request, entity))
        selected = salesreps.fix_selection(batch_id, request.selection, entity)
        outcome = apply_in_batch(batch_id, request, entity, progress, selected)
        changed = outcome.total("added") + outcome.total("removed")
        (Batch.update(documents_changed=outcome.total("changed"),
                      contacts_added=outcome.total("added"),
                      contacts_removed=outcome.total("removed"), rows_changed=changed,
                      thirdparties=_thirdparties_changed(batch_id))
         .where(Batch.id == batch_id).execute())
        if changed and agenda_service.wanted(agenda, entity):
            agenda_service.record_events(batch_id, entity, actor, _summary(request, entity))
        salesreps.release_selection(batch_id)
        if not changed:
            transaction.rollback()
            outcome.batch_id = None
    return outcome


def preview(request, entity, page=1, per_page=50):
    """What ``run`` would do, read without changing anything (one consistent read, only
    the selection written to a temporary table and rolled back): the same predicates
    counted instead of applied, and a page of the documents that change with their
    follow-up contacts before and after. A bounded number of statements."""
    with database.atomic() as transaction:
        PreviewSelection.create_table(safe=True)   # temporary: this connection's own
        PreviewSelection.insert_from(salesreps.selection(request.selection, entity),
                                     [PreviewSelection.fk_soc]).execute()
        selected = PreviewSelection.select(PreviewSelection.fk_soc)
        changes = {}
        for doc_type in request.doc_types:
            query = _changes(DOCUMENT_MODELS[doc_type.element], request, entity, selected)
            changes[doc_type.element] = query.select_from(
                count_if(query.c.change == "+").alias("added"),
                count_if(query.c.change == "-").alias("removed"),
                fn.COUNT(query.c.element_id.distinct()).alias("changed")).dicts().get()
        outcome = _report(request, entity, selected, changes)
        # The page, in (type, document id) order: the counts say which types it spans,
        # so only those are read (one query each, at most one per type).
        page_ids, start = [], (page - 1) * per_page
        for element in sorted(changes):
            count = int(changes[element]["changed"] or 0)
            if start >= count:
                start -= count
                continue
            query = _changes(DOCUMENT_MODELS[element], request, entity, selected)
            page_ids += [(element, element_id) for (element_id,) in
                         query.select_from(query.c.element_id).group_by(query.c.element_id)
                         .order_by(query.c.element_id)
                         .limit(per_page - len(page_ids)).offset(start).tuples()]
            start = 0
            if len(page_ids) >= per_page:
                break
        outcome.documents = _documents_page(page_ids, request, entity, selected)
        transaction.rollback()   # nothing stays, not even the temporary selection
    return outcome


def apply_in_batch(batch_id, request, entity, progress, selected):
    """The statements of one update, journaled under ``batch_id``, in the caller's
    transaction (also used by the sales-rep mass actions' "update their documents").

    ``selected``: the subquery of the batch's fixed selection (salesreps.fix_selection).
    ``progress(phase)`` is called between statements (background jobs show it).
    """
    progress = progress or (lambda phase: None)
    for doc_type in request.doc_types:
        progress(_("Finding the %(type)s contacts to remove", type=doc_type.label.lower()))
        _journal_removals(batch_id, DOCUMENT_MODELS[doc_type.element], request, entity, selected)
    progress(_("Removing contacts"))
    journal.delete_journaled(ElementContact, BatchContact, BatchContact.ec_rowid, batch_id, "-")
    PendingContact.create_table(safe=True)   # temporary: this connection's own, empty
    for doc_type in request.doc_types:
        progress(_("Finding the %(type)s contacts to add", type=doc_type.label.lower()))
        _pending_additions(batch_id, DOCUMENT_MODELS[doc_type.element], request, entity, selected)
    progress(_("Adding contacts"))
    now = datetime.now().replace(microsecond=0)
    ElementContact.insert_from(
        PendingContact.select(Value(now), Value(ACTIVE_LINK_STATUS), PendingContact.element_id,
                              PendingContact.fk_c_type_contact, PendingContact.fk_socpeople),
        [ElementContact.datecreate, ElementContact.statut, ElementContact.element_id,
         ElementContact.fk_c_type_contact, ElementContact.fk_socpeople]).execute()
    # Journal them with the row ids they got: (element_id, fk_c_type_contact, fk_socpeople)
    # is Dolibarr's unique key, and none of these pairs existed before.
    BatchContact.insert_from(
        PendingContact
        .select(Value(batch_id), Value("+"), ElementContact.rowid, PendingContact.element,
                PendingContact.element_id, PendingContact.fk_soc,
                PendingContact.fk_c_type_contact, PendingContact.fk_socpeople)
        .join(ElementContact, on=(
            (ElementContact.element_id == PendingContact.element_id)
            & (ElementContact.fk_c_type_contact == PendingContact.fk_c_type_contact)
            & (ElementContact.fk_socpeople == PendingContact.fk_socpeople))),
        [BatchContact.batch_id, BatchContact.change, BatchContact.ec_rowid, BatchContact.element,
         BatchContact.element_id, BatchContact.fk_soc, BatchContact.fk_c_type_contact,
         BatchContact.fk_socpeople]).execute()
    PendingContact.delete().execute()
    progress(_("Counting"))
    return _outcome(batch_id, request, entity, selected)


def progress_steps(request):
    """How many progress phases run() reports for this request."""
    return 2 * len(request.doc_types) + 3


def _thirdparties_changed(batch_id):
    return (BatchContact.select(fn.COUNT(BatchContact.fk_soc.distinct()))
            .where(BatchContact.batch_id == batch_id).scalar() or 0)


def _summary(request, entity):
    types = ", ".join(d.label.lower() for d in request.doc_types)
    period = _("%(start)s to %(end)s", start=request.date_from.isoformat(),
               end=request.date_to.isoformat())
    if request.mode == "replace":
        users = salesreps._users((request.from_user_id, request.to_user_id), entity)
        names = [users[u].full_name if u in users else _("user %(id)s", id=u)
                 for u in (request.from_user_id, request.to_user_id)]
        return _("Replace %(old)s by %(new)s on %(types)s, %(period)s", old=names[0],
                 new=names[1], types=types, period=period)
    return _("Sync follow-up contacts with sales reps on %(types)s, %(period)s", types=types,
             period=period)


def _outcome(batch_id, request, entity, selected):
    """The counts of an applied update, from its journal rows."""
    rows = (BatchContact
            .select(BatchContact.element,
                    count_if(BatchContact.change == "+").alias("added"),
                    count_if(BatchContact.change == "-").alias("removed"),
                    fn.COUNT(BatchContact.element_id.distinct()).alias("changed"))
            .where(BatchContact.batch_id == batch_id)
            .group_by(BatchContact.element).dicts())
    outcome = _report(request, entity, selected, {row["element"]: row for row in rows})
    outcome.batch_id = batch_id
    return outcome


def _report(request, entity, selected, changes):
    """The outcome from the changes per type ({element: {added, removed, changed}}) and
    the documents examined: one query per type, and one for thirdparties without rep."""
    per_type = {}
    for doc_type in request.doc_types:
        counts = _type_counts(DOCUMENT_MODELS[doc_type.element], request, entity, selected)
        change = changes.get(doc_type.element) or {}
        counts.update(changed=int(change.get("changed") or 0),
                      added=int(change.get("added") or 0),
                      removed=int(change.get("removed") or 0))
        counts["already_right"] = counts["examined"] - counts["changed"]
        per_type[doc_type.element] = counts
    without_rep = 0
    if request.mode == "sync":
        without_rep = (Thirdparty.select(fn.COUNT(Thirdparty.rowid)).where(
            Thirdparty.rowid.in_(selected),
            ~fn.EXISTS(_active_reps(entity).where(SalesRepLink.fk_soc == Thirdparty.rowid)))
            .scalar() or 0)
    return DocumentOutcome(batch_id=None, per_type=per_type,
                           thirdparties_without_rep=without_rep)


def _documents_page(page_ids, request, entity, selected):
    """The documents ``page_ids`` ([(element, id)], in order) as a preview lists them:
    ref, date, status, follow-up contacts before → after. Queries per type on the page."""
    from .directory import document_contacts
    by_type = {}
    for element, element_id in page_ids:
        by_type.setdefault(element, []).append(element_id)
    result = []
    for element, ids in by_type.items():
        model = DOCUMENT_MODELS[element]
        date_column = model._meta.columns[request.date_fields[element]]
        info = {row.rowid: row for row in model.select(model.rowid, model.ref, model.status,
                                                        date_column.alias("period_date"))
                .where(model.rowid.in_(ids))}
        added, removed = {}, {}
        for change, element_id, person in _changes(model, request, entity, selected,
                                                   ids).tuples():
            (added if change == "+" else removed).setdefault(element_id, set()).add(person)
        now = document_contacts(element, ids, code=request.contact_codes[element])
        for element_id in ids:
            before = {row["fk_socpeople"] for row in now.get(element_id, [])}
            after = (before - removed.get(element_id, set())) | added.get(element_id, set())
            document = info.get(element_id)
            result.append({"element": element, "id": element_id,
                           "ref": document.ref if document else None,
                           "date": document.period_date if document else None,
                           "status": doctypes.get(element).statuses.get(
                               document.status if document else None, ""),
                           "before": sorted(before), "after": sorted(after)})
    people = {user.rowid: user.full_name for user in User.select().where(
        User.rowid.in_({p for row in result for p in row["before"] + row["after"]}))}
    for row in result:
        row["before"] = [people.get(p, f"user {p}") for p in row["before"]]
        row["after"] = [people.get(p, f"user {p}") for p in row["after"]]
    return result


def consistency(thirdparty_id, entity, settings, date_from=None, date_to=None):
    """Per enabled document type of one thirdparty: documents, and those whose
    follow-up contacts differ from the thirdparty's current active reps.

    Read-only, one query per type; the same predicates as the sync engine.
    """
    codes = {element: value.contact_type for element, value in settings.doc_types.items()
             if value.enabled}
    type_ids = {(row.element, row.code): row.rowid for row in ContactType.select().where(
        ContactType.element.in_(list(codes)), ContactType.source == "internal",
        ContactType.active == 1)}
    has_rep = (_active_reps(entity).where(SalesRepLink.fk_soc == thirdparty_id).count() > 0)
    rows = []
    for doc_type in doctypes.DOC_TYPES:
        element = doc_type.element
        if element not in codes:
            continue
        model = DOCUMENT_MODELS[element]
        contact_type = type_ids.get((element, codes[element]))
        condition = (model.entity == entity) & (model.fk_soc == thirdparty_id)
        if date_from and date_to:
            column = (doc_type.date_column if settings.doc_types[element].date_field == "document"
                      and doc_type.date_column else doc_type.creation_date_column)
            condition &= in_period(model, column, date_from, date_to)
        unwanted = ElementContact.select(ElementContact.rowid).where(
            ElementContact.element_id == model.rowid,
            ElementContact.fk_c_type_contact == contact_type,
            ~fn.EXISTS(_active_reps(entity).where(
                SalesRepLink.fk_soc == model.fk_soc,
                SalesRepLink.fk_user == ElementContact.fk_socpeople)))
        missing = _active_reps(entity).where(
            SalesRepLink.fk_soc == model.fk_soc,
            ~fn.EXISTS(ElementContact.select(ElementContact.rowid).where(
                ElementContact.element_id == model.rowid,
                ElementContact.fk_c_type_contact == contact_type,
                ElementContact.fk_socpeople == SalesRepLink.fk_user)))
        differs = fn.EXISTS(unwanted) | fn.EXISTS(missing)
        counts = (model.select(fn.COUNT(model.rowid).alias("documents"),
                               count_if(differs).alias("differ"))
                  .where(condition).dicts().get())
        rows.append({"type": doc_type, "contact_type": codes[element],
                     "known_type": contact_type is not None,
                     "documents": int(counts["documents"] or 0),
                     "differ": int(counts["differ"] or 0) if has_rep and contact_type else 0})
    return {"rows": rows, "has_active_rep": has_rep}
