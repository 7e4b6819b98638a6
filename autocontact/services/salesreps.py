"""Mass changes of sales representatives: assign, unassign, clear, transfer.

One operation is one transaction with a fixed number of set-based statements,
whatever the number of thirdparties:

1. journal the links to remove (INSERT … SELECT into the batch's rows),
2. delete them,
3. find the links to add (the pairs not linked yet) into a temporary table,
4. insert them as Dolibarr's Societe::add_commercial stores them,
5. journal them with the row ids they got, 6. count.

A preview or dry run is the same transaction, rolled back: what it reports
is exactly what applying would do.
"""
from dataclasses import dataclass, field

from flask_babel import format_decimal
from flask_babel import gettext as _
from peewee import JOIN, SQL, Value, fn

from ..dolibarr.models import (
    GroupRight,
    SalesRepLink,
    Thirdparty,
    User,
    UserGroupMember,
    UserRight,
    database,
)
from ..dolibarr.tool_tables import Batch, BatchSalesRep, BatchSelection, PendingSalesRep
from . import agenda as agenda_service
from . import journal, permissions, thirdparties
from .directory import count_if, user_entities

ACTIONS = ("assign", "unassign", "clear", "transfer")
MAX_IDS = 100_000
SALESREP_TYPE_CODE = "SALESREPTHIRD"
SEE_ALL_RIGHT = 262  # societe/client/voir: "Read all thirdparties", else only those represented


class InvalidRequest(ValueError):
    """Bad input: the message names the problem, ``field`` the key at fault."""

    def __init__(self, message, field_name=None):
        super().__init__(message)
        self.field = field_name


@dataclass
class Request:
    action: str
    thirdparty_ids: tuple | None = None
    criteria: thirdparties.ThirdpartyFilter | None = None
    user_ids: tuple = ()
    replace: bool = False
    from_user_id: int | None = None
    to_user_id: int | None = None
    documents: object = None     # a documents.DocumentRequest to run in the same operation

    def selection_params(self):
        """The selection as the journal keeps it (small id lists whole, else their count)."""
        if self.criteria is not None:
            return {"filter": self.criteria.criteria()}
        body = {"thirdparty_count": len(self.thirdparty_ids)}
        if len(self.thirdparty_ids) <= 100:
            body["thirdparty_ids"] = list(self.thirdparty_ids)
        return body

    def params(self):
        """What the journal keeps of the request."""
        body = {"action": self.action, "user_ids": list(self.user_ids), "replace": self.replace,
                "from_user_id": self.from_user_id, "to_user_id": self.to_user_id,
                **self.selection_params()}
        if self.documents is not None:
            body["documents"] = self.documents.params(with_selection=False)
        return body


@dataclass
class Outcome:
    batch_id: int | None
    selected: int
    thirdparties: int
    links_added: int
    links_removed: int
    per_user: list = field(default_factory=list)   # [{user_id, name, active, added, removed, sees_all}]
    examples: list = field(default_factory=list)   # a few affected thirdparty names
    documents: object = None                       # DocumentOutcome of the cascade, if asked

    def as_dict(self):
        body = {"batch_id": self.batch_id, "thirdparties": self.thirdparties,
                "links_added": self.links_added, "links_removed": self.links_removed,
                "selected": self.selected, "per_user": self.per_user}
        if self.documents is not None:
            body["documents"] = {**self.documents.as_dict(), "batch_id": self.batch_id}
        return body


# --- validation ----------------------------------------------------------------

def _int(value, field_name, what):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidRequest(_("%(what)s must be a whole number.", what=what), field_name)
    text = str(value).strip()
    if not text.isdecimal() or len(text) > 10:
        raise InvalidRequest(_("%(what)s must be a whole number, not '%(text)s'.", what=what,
                               text=text[:20]), field_name)
    return int(text)


def _int_list(values, field_name, what, limit=MAX_IDS):
    if not isinstance(values, (list, tuple)):
        raise InvalidRequest(_("'%(field)s' must be a list of %(what)s.", field=field_name,
                               what=what), field_name)
    if len(values) > limit:
        raise InvalidRequest(_("Too many %(what)s: %(count)s (at most %(limit)s).", what=what,
                               count=format_decimal(len(values)), limit=format_decimal(limit)),
                             field_name)
    numbers = [_int(value, field_name, _("Each of '%(field)s'", field=field_name))
               for value in values]
    seen = set()
    for number in numbers:
        if number in seen:
            raise InvalidRequest(_("'%(field)s' lists %(number)s more than once.",
                                   field=field_name, number=number), field_name)
        seen.add(number)
    return tuple(numbers)


def _users(ids, entity):
    return {user.rowid: user for user in User.select().where(
        User.rowid.in_(list(ids)), User.entity.in_(user_entities(entity)))}


def _check_target(user, user_id, field_name):
    """A user who becomes a sales rep: existing, internal and active."""
    if user is None:
        raise InvalidRequest(_("User %(id)s does not exist in this company.", id=user_id),
                             field_name)
    if not user.is_internal:
        raise InvalidRequest(_("%(name)s is an external user and cannot be a sales rep.",
                               name=user.full_name),
                             field_name)
    if not user.is_active:
        raise InvalidRequest(_("%(name)s is disabled and cannot become a sales rep.",
                               name=user.full_name),
                             field_name)


def parse_selection(payload, entity):
    """The thirdparties a request is about: ``thirdparty_ids`` or a list ``filter``."""
    if not isinstance(payload, dict):
        raise InvalidRequest(_("Send a JSON object."))
    has_ids, has_filter = "thirdparty_ids" in payload, "filter" in payload
    if has_ids == has_filter:
        raise InvalidRequest(_("Give either 'thirdparty_ids' or 'filter', not both or neither."),
                             "thirdparty_ids")
    request = Request(action=payload.get("action"))
    if has_filter:
        try:
            request.criteria = thirdparties.parse_filter(payload["filter"])
        except thirdparties.FilterInvalid as invalid:
            raise InvalidRequest(_("Filter: %(error)s", error=invalid),
                                 f"filter.{invalid.field}") from None
        return request
    request.thirdparty_ids = _int_list(payload["thirdparty_ids"], "thirdparty_ids",
                                       _("thirdparty ids"))
    if not request.thirdparty_ids:
        raise InvalidRequest(_("The selection is empty: choose at least one thirdparty."),
                             "thirdparty_ids")
    found = {row[0] for row in Thirdparty.select(Thirdparty.rowid).where(
        Thirdparty.rowid.in_(_literal_ids(request.thirdparty_ids)),
        Thirdparty.entity == entity).tuples()}
    missing = [tid for tid in request.thirdparty_ids if tid not in found]
    if missing:
        raise InvalidRequest(
            _("Thirdparty %(id)s does not exist in this company (and %(num)s more).",
              id=missing[0], num=len(missing) - 1) if len(missing) > 1 else
            _("Thirdparty %(id)s does not exist in this company.", id=missing[0]),
            "thirdparty_ids")
    return request


def parse_request(payload, entity, settings):
    """Validate an API payload (or the dialog's equivalent) into a Request."""
    if not isinstance(payload, dict):
        raise InvalidRequest(_("Send a JSON object."))
    action = payload.get("action")
    if action not in ACTIONS:
        raise InvalidRequest(_("'action' must be one of %(actions)s.", actions=", ".join(ACTIONS)),
                             "action")
    for flag in ("replace", "dry_run"):
        if flag in payload and not isinstance(payload[flag], bool):
            raise InvalidRequest(_("'%(name)s' must be true or false.", name=flag), flag)
    request = parse_selection(payload, entity)
    request.replace = payload.get("replace") is True

    if action in ("assign", "unassign"):
        request.user_ids = _int_list(payload.get("user_ids", []), "user_ids", _("user ids"), 1000)
        if not request.user_ids:
            raise InvalidRequest(_("Choose at least one user."), "user_ids")
        users = _users(request.user_ids, entity)
        for user_id in request.user_ids:
            if action == "assign":
                _check_target(users.get(user_id), user_id, "user_ids")
            elif user_id not in users:
                raise InvalidRequest(_("User %(id)s does not exist in this company.", id=user_id),
                                     "user_ids")
    elif action == "clear":
        if not settings.allow_remove_all:
            raise InvalidRequest(_("Removing all sales reps is disabled in setup."), "action")
    elif action == "transfer":
        for name in ("from_user_id", "to_user_id"):
            if payload.get(name) in (None, ""):
                raise InvalidRequest(_("A transfer needs '%(name)s'.", name=name), name)
        request.from_user_id = _int(payload["from_user_id"], "from_user_id", "'from_user_id'")
        request.to_user_id = _int(payload["to_user_id"], "to_user_id", "'to_user_id'")
        users = _users((request.from_user_id, request.to_user_id), entity)
        if request.from_user_id not in users:
            raise InvalidRequest(_("User %(id)s does not exist in this company.",
                                   id=request.from_user_id), "from_user_id")
        _check_target(users.get(request.to_user_id), request.to_user_id, "to_user_id")
        if request.from_user_id == request.to_user_id:
            raise InvalidRequest(_("Transfer to a different user."), "to_user_id")
    if payload.get("documents") is not None:
        from . import documents
        cascade = payload["documents"]
        if not isinstance(cascade, dict):
            raise InvalidRequest(_("'documents' must be an object: date_from, date_to, doc_types, "
                                   "statuses."), "documents")
        try:
            request.documents = documents.parse_request(
                {**cascade, "mode": "sync"}, entity, settings, selection=request)
        except InvalidRequest as invalid:
            raise InvalidRequest(_("Documents: %(error)s", error=invalid),
                                 f"documents.{invalid.field}") from None
    return request


# --- the operation -------------------------------------------------------------

def _literal_ids(ids):
    """Validated integer ids written into the SQL: no bound-parameter limit applies."""
    return SQL("(" + ",".join(str(int(i)) for i in ids) + ")")


def fix_selection(batch_id, request, entity):
    """Write the selected thirdparties' ids for this batch (one statement) and return
    a subquery of them: every later statement sees the same thirdparties."""
    ids = selection(request, entity).select(Value(batch_id), Thirdparty.rowid)
    BatchSelection.insert_from(ids, [BatchSelection.batch_id, BatchSelection.fk_soc]).execute()
    return BatchSelection.select(BatchSelection.fk_soc).where(BatchSelection.batch_id == batch_id)


def release_selection(batch_id):
    BatchSelection.delete().where(BatchSelection.batch_id == batch_id).execute()


def selection(request, entity):
    """A subquery of the selected thirdparties' ids (evaluated where it is used)."""
    if request.criteria is not None:
        return thirdparties.matching(request.criteria, entity).select(Thirdparty.rowid)
    return Thirdparty.select(Thirdparty.rowid).where(
        Thirdparty.rowid.in_(_literal_ids(request.thirdparty_ids)), Thirdparty.entity == entity)


def _removal_condition(request):
    if request.action == "assign":
        return (SalesRepLink.fk_user.not_in(list(request.user_ids)) if request.replace
                else SQL("1 = 0"))
    if request.action == "unassign":
        return SalesRepLink.fk_user.in_(list(request.user_ids))
    if request.action == "transfer":
        return SalesRepLink.fk_user == request.from_user_id
    return SQL("1 = 1")  # clear


def _summary(request, users):
    def name(user_id):
        return users[user_id].full_name if user_id in users else _("user %(id)s", id=user_id)

    names = ", ".join(name(u) for u in request.user_ids)
    if request.action == "assign":
        return (_("Replace sales reps by %(names)s", names=names) if request.replace
                else _("Assign %(names)s", names=names))
    if request.action == "unassign":
        return _("Unassign %(names)s", names=names)
    if request.action == "transfer":
        return _("Transfer %(old)s → %(new)s", old=name(request.from_user_id),
                 new=name(request.to_user_id))
    return _("Remove all sales reps")


def run(actor, request, entity, schema, dry_run=False, agenda=None, progress=None):
    """Apply (or, with dry_run, try and roll back) a mass action; return its Outcome.

    ``agenda``: also write one event per changed thirdparty in Dolibarr's agenda
    (None: as setup says). ``progress(phase)`` is called between statements.
    """
    permissions.require(actor, permissions.EDITOR)
    progress = progress or (lambda phase: None)
    users = _users(set(request.user_ids) | {request.from_user_id, request.to_user_id} - {None},
                   entity)
    with database.atomic() as transaction:
        batch_id = journal.start_batch(actor, entity, request.action, request.params(),
                                       _summary(request, users))
        selected = fix_selection(batch_id, request, entity)
        removed = (SalesRepLink
                   .select(Value(batch_id), Value("-"), SalesRepLink.rowid, SalesRepLink.fk_soc,
                           SalesRepLink.fk_user, SalesRepLink.import_key, _type_code(schema))
                   .where(SalesRepLink.fk_soc.in_(selected), _removal_condition(request)))
        journal_columns = [BatchSalesRep.batch_id, BatchSalesRep.change, BatchSalesRep.link_rowid,
                           BatchSalesRep.fk_soc, BatchSalesRep.fk_user, BatchSalesRep.import_key,
                           BatchSalesRep.type_code]
        progress(_("Finding the sales-rep links to remove"))
        BatchSalesRep.insert_from(removed, journal_columns).execute()
        progress(_("Removing sales-rep links"))
        journal.delete_journaled(SalesRepLink, BatchSalesRep, BatchSalesRep.link_rowid,
                                 batch_id, "-")

        additions = _additions(request, selected, batch_id)
        if additions is not None:
            progress(_("Adding sales-rep links"))
            PendingSalesRep.create_table(safe=True)   # temporary: this connection's own
            PendingSalesRep.insert_from(additions, [
                PendingSalesRep.fk_soc, PendingSalesRep.fk_user,
                PendingSalesRep.type_code]).execute()
            added = PendingSalesRep.select(PendingSalesRep.fk_soc, PendingSalesRep.fk_user)
            link_columns = [SalesRepLink.fk_soc, SalesRepLink.fk_user]
            if schema.salesrep_type_code:
                added = added.select_extend(PendingSalesRep.type_code)
                link_columns.append(SalesRepLink.type_code)
            SalesRepLink.insert_from(added, link_columns).execute()
            # Journal them with their row ids: only pairs without any link were added
            # (_additions), so each pair has exactly one row now.
            BatchSalesRep.insert_from(
                PendingSalesRep
                .select(Value(batch_id), Value("+"), SalesRepLink.rowid, PendingSalesRep.fk_soc,
                        PendingSalesRep.fk_user, PendingSalesRep.type_code)
                .join(SalesRepLink, on=((SalesRepLink.fk_soc == PendingSalesRep.fk_soc)
                                        & (SalesRepLink.fk_user == PendingSalesRep.fk_user))),
                [BatchSalesRep.batch_id, BatchSalesRep.change, BatchSalesRep.link_rowid,
                 BatchSalesRep.fk_soc, BatchSalesRep.fk_user, BatchSalesRep.type_code]).execute()
            PendingSalesRep.delete().execute()

        outcome = _outcome(batch_id, request, selected, entity)
        changed = outcome.links_added + outcome.links_removed
        counts = {}
        if request.documents is not None:
            from . import documents
            outcome.documents = documents.apply_in_batch(batch_id, request.documents, entity,
                                                         progress, selected)
            counts = {"documents_changed": outcome.documents.total("changed"),
                      "contacts_added": outcome.documents.total("added"),
                      "contacts_removed": outcome.documents.total("removed")}
            changed += counts["contacts_added"] + counts["contacts_removed"]
        (Batch.update(thirdparties=outcome.thirdparties, links_added=outcome.links_added,
                      links_removed=outcome.links_removed, rows_changed=changed, **counts)
         .where(Batch.id == batch_id).execute())
        if changed and not dry_run and agenda_service.wanted(agenda, entity):
            agenda_service.record_events(batch_id, entity, actor, _summary(request, users))
        release_selection(batch_id)
        if dry_run or not changed:
            transaction.rollback()
            outcome.batch_id = None
    return outcome


def progress_steps(request):
    """How many progress phases run() reports for this request."""
    documents = request.documents
    return 3 + (2 * len(documents.doc_types) + 3 if documents is not None else 0)


def _type_code(schema):
    return SalesRepLink.type_code if schema.salesrep_type_code else Value(None)


def _additions(request, selected, batch_id):
    """The (thirdparty, user) pairs to link, as a SELECT for the journal, or None."""
    if request.action == "assign":
        targets = User.select(User.rowid).where(User.rowid.in_(list(request.user_ids)))
        ThirdpartyAlias = Thirdparty.alias("s")
        TargetAlias = User.alias("u")
        pairs = (ThirdpartyAlias
                 .select(ThirdpartyAlias.rowid, TargetAlias.rowid,
                         Value(SALESREP_TYPE_CODE))
                 .join(TargetAlias, JOIN.CROSS)
                 .where(ThirdpartyAlias.rowid.in_(selected), TargetAlias.rowid.in_(targets)))
        return pairs.where(~fn.EXISTS(
            SalesRepLink.select(SalesRepLink.rowid).where(
                SalesRepLink.fk_soc == ThirdpartyAlias.rowid,
                SalesRepLink.fk_user == TargetAlias.rowid)))
    if request.action == "transfer":
        Removed = BatchSalesRep.alias("r")
        return (Removed
                .select(Removed.fk_soc, Value(request.to_user_id),
                        Value(SALESREP_TYPE_CODE))
                .where(Removed.batch_id == batch_id, Removed.change == "-",
                       ~fn.EXISTS(SalesRepLink.select(SalesRepLink.rowid).where(
                           SalesRepLink.fk_soc == Removed.fk_soc,
                           SalesRepLink.fk_user == request.to_user_id)))
                # A user may hold several links with other type codes (Dolibarr 20+).
                .distinct())
    return None


def _outcome(batch_id, request, selected, entity):
    """Counts, per-user effects and examples from the batch's journal rows: three queries."""
    rows = BatchSalesRep.select().where(BatchSalesRep.batch_id == batch_id)
    per_user_rows = (BatchSalesRep
                     .select(BatchSalesRep.fk_user,
                             count_if(BatchSalesRep.change == "+").alias("added"),
                             count_if(BatchSalesRep.change == "-").alias("removed"))
                     .where(BatchSalesRep.batch_id == batch_id)
                     .group_by(BatchSalesRep.fk_user).dicts())
    per_user = {row["fk_user"]: row for row in per_user_rows}
    users = _users(per_user, entity) if per_user else {}
    sees_all = _sees_all(per_user, entity) if per_user else set()
    totals = (BatchSalesRep
              .select(fn.COUNT(BatchSalesRep.fk_soc.distinct()).alias("thirdparties"))
              .where(BatchSalesRep.batch_id == batch_id).dicts().get())
    examples = [row[0] for row in Thirdparty.select(Thirdparty.name)
                .where(Thirdparty.rowid.in_(rows.select(BatchSalesRep.fk_soc)))
                .order_by(Thirdparty.name).limit(8).tuples()]
    return Outcome(
        batch_id=batch_id,
        selected=selected.count(),
        thirdparties=totals["thirdparties"] or 0,
        links_added=sum(int(row["added"] or 0) for row in per_user.values()),
        links_removed=sum(int(row["removed"] or 0) for row in per_user.values()),
        per_user=[{
            "user_id": user_id,
            "name": users[user_id].full_name if user_id in users else f"user {user_id}",
            "active": bool(users[user_id].is_active) if user_id in users else False,
            "added": int(row["added"] or 0), "removed": int(row["removed"] or 0),
            "sees_all": user_id in sees_all,
        } for user_id, row in sorted(per_user.items(), key=lambda item: (
            users[item[0]].full_name if item[0] in users else "", item[0]))],
        examples=examples,
    )


def _sees_all(user_ids, entity):
    """Users who see every thirdparty in Dolibarr anyway: admins, or right 262."""
    by_user = UserRight.select(UserRight.fk_user).where(
        UserRight.fk_id == SEE_ALL_RIGHT, UserRight.entity == entity)
    by_group = (UserGroupMember.select(UserGroupMember.fk_user)
                .join(GroupRight, on=(GroupRight.fk_usergroup == UserGroupMember.fk_usergroup))
                .where(GroupRight.fk_id == SEE_ALL_RIGHT, GroupRight.entity == entity,
                       UserGroupMember.entity == entity))
    query = User.select(User.rowid).where(
        User.rowid.in_(list(user_ids)),
        (User.admin == 1) | User.rowid.in_(by_user) | User.rowid.in_(by_group))
    return {row[0] for row in query.tuples()}
