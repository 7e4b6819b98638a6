"""Mass changes of sales representatives: assign, unassign, clear, transfer.

One operation is one transaction with a fixed number of set-based statements,
whatever the number of thirdparties:

0. fix the selected thirdparties in a temporary table,
1. journal the links to remove (INSERT … SELECT into the batch's rows),
2. delete them,
3. insert the links to add (the pairs not linked yet) as Dolibarr's
   Societe::add_commercial stores them,
4. journal them with the row ids they got (read back by primary key),
5. count: the totals are the statements' row counts, the per-user effects and
   examples are read from the links added and the journal of those removed.

A preview or dry run is the same transaction, rolled back: what it reports
is exactly what applying would do.
"""
from dataclasses import dataclass, field

from flask_babel import format_decimal
from flask_babel import gettext as _
from peewee import JOIN, SQL, Select, Value, fn

from ..dolibarr.models import (
    GroupRight,
    SalesRepLink,
    Thirdparty,
    User,
    UserGroupMember,
    UserRight,
    database,
)
from ..dolibarr.tool_tables import Batch, BatchSalesRep, BatchSelection, OperationSelection
from . import agenda as agenda_service
from . import journal, permissions, thirdparties
from .directory import user_entities

ACTIONS = ("assign", "unassign", "clear", "transfer")
MAX_IDS = 100_000
SALESREP_TYPE_CODE = "SALESREPTHIRD"
SEE_ALL_RIGHT = 262  # societe/client/voir: "Read all thirdparties", else only those represented
JOURNAL_COLUMNS = [BatchSalesRep.batch_id, BatchSalesRep.change, BatchSalesRep.link_rowid,
                   BatchSalesRep.fk_soc, BatchSalesRep.fk_user, BatchSalesRep.import_key,
                   BatchSalesRep.type_code]


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
    each = None
    numbers = []
    for value in values:
        # Whole numbers as JSON gives them, without building a message per value (a
        # 10,000-id selection would otherwise translate one message per id).
        if type(value) is int and 0 <= value <= 9_999_999_999:
            numbers.append(value)
            continue
        each = each or _("Each of '%(field)s'", field=field_name)
        numbers.append(_int(value, field_name, each))
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
    existing = Thirdparty.select(Thirdparty.rowid).where(
        Thirdparty.rowid.in_(_literal_ids(request.thirdparty_ids)), Thirdparty.entity == entity)
    # Counted (one number back, not 10,000 rows); the ids are read only to name a missing one.
    if existing.select(fn.COUNT(Thirdparty.rowid)).scalar() != len(request.thirdparty_ids):
        found = {row[0] for row in existing.tuples()}
        missing = [tid for tid in request.thirdparty_ids if tid not in found]
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


def _fix_operation_selection(request, entity):
    """fix_selection in a temporary table of the connection (no redo log, nothing to
    delete afterwards: for 10,000 ids about half the cost of insert + delete);
    returns the subquery and how many thirdparties it fixed (the statement's row count)."""
    OperationSelection.create_table(safe=True)   # temporary: this connection's own
    cursor = database.execute(OperationSelection.insert_from(
        selection(request, entity), [OperationSelection.fk_soc]))
    return OperationSelection.select(OperationSelection.fk_soc), cursor.rowcount


def _release_operation_selection():
    """Drop the temporary selection (DROP TEMPORARY TABLE commits nothing on MariaDB)."""
    table = OperationSelection._meta.table_name
    database.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS `{table}`" if journal.on_mysql()
                         else f'DROP TABLE IF EXISTS temp."{table}"')


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
        selected, selected_count = _fix_operation_selection(request, entity)
        removed = (SalesRepLink
                   .select(Value(batch_id), Value("-"), SalesRepLink.rowid, SalesRepLink.fk_soc,
                           SalesRepLink.fk_user, SalesRepLink.import_key, _type_code(schema))
                   .where(SalesRepLink.fk_soc.in_(selected), _removal_condition(request)))
        progress(_("Finding the sales-rep links to remove"))
        links_removed = database.execute(
            BatchSalesRep.insert_from(removed, JOURNAL_COLUMNS)).rowcount
        progress(_("Removing sales-rep links"))
        journal.delete_journaled(SalesRepLink, BatchSalesRep, BatchSalesRep.link_rowid,
                                 batch_id, "-")

        additions = _additions(request, selected, batch_id)
        links_added, added = 0, None
        if additions is not None:
            progress(_("Adding sales-rep links"))
            link_columns = [SalesRepLink.fk_soc, SalesRepLink.fk_user]
            if schema.salesrep_type_code:
                additions = additions.select_extend(Value(SALESREP_TYPE_CODE))
                link_columns.append(SalesRepLink.type_code)
            inserted = database.execute(SalesRepLink.insert_from(additions, link_columns))
            links_added = inserted.rowcount
            if links_added:
                added = _journal_additions(batch_id, request, selected, schema, inserted)

        outcome = _outcome(batch_id, selected_count, links_added, links_removed, added,
                           entity)
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
        _release_operation_selection()
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
    """The (thirdparty, user) pairs to link, none of them linked yet (with any type code),
    as a SELECT, or None."""
    if request.action == "assign":
        targets = User.select(User.rowid).where(User.rowid.in_(list(request.user_ids)))
        ThirdpartyAlias = Thirdparty.alias("s")
        TargetAlias = User.alias("u")
        pairs = (ThirdpartyAlias
                 .select(ThirdpartyAlias.rowid, TargetAlias.rowid)
                 .join(TargetAlias, JOIN.CROSS)
                 .where(ThirdpartyAlias.rowid.in_(selected), TargetAlias.rowid.in_(targets)))
        return pairs.where(~fn.EXISTS(
            SalesRepLink.select(SalesRepLink.rowid).where(
                SalesRepLink.fk_soc == ThirdpartyAlias.rowid,
                SalesRepLink.fk_user == TargetAlias.rowid)))
    if request.action == "transfer":
        Removed = BatchSalesRep.alias("r")
        return (Removed
                .select(Removed.fk_soc, Value(request.to_user_id))
                .where(Removed.batch_id == batch_id, Removed.change == "-",
                       ~fn.EXISTS(SalesRepLink.select(SalesRepLink.rowid).where(
                           SalesRepLink.fk_soc == Removed.fk_soc,
                           SalesRepLink.fk_user == request.to_user_id)))
                # A user may hold several links with other type codes (Dolibarr 20+).
                .distinct())
    return None


def _targets(request):
    return list(request.user_ids) if request.action == "assign" else [request.to_user_id]


def _journal_additions(batch_id, request, selected, schema, inserted):
    """Journal the links the INSERT ``inserted`` just added, with their row ids, read
    back by primary key (one statement); return a SELECT of them (fk_soc, fk_user).

    Their ids: MariaDB gives the statement's first one, and allocates them consecutively
    (an INSERT … SELECT holds the table's AUTO-INC lock, innodb_autoinc_lock_mode 0 and 1);
    SQLite gives the last one and has a single writer. The range is read with the
    operation's own conditions (its thirdparties, its users, the type code it wrote), which
    no row of another session can meet: a pair it added or found linked cannot be linked
    again (unique key), and one found linked has a lower id. Should the ids not be
    consecutive (auto_increment_increment > 1, lock mode 2 under concurrent inserts), those
    beyond the range are journaled by a second statement, and the count must match or the
    operation fails (rolled back). The one case this cannot tell: in lock mode 2 (MySQL 8's
    default, not MariaDB's), another session committing one of the very same pairs with an
    id inside the range in the instant before this statement reached that pair.

    MariaDB reads the range by primary key (journal.by_primary_key): the new
    rows are not in the statistics, which would otherwise send it through the type-code
    index (every link of the type), several times slower."""
    count = inserted.rowcount
    first = inserted.lastrowid if journal.on_mysql() else inserted.lastrowid - count + 1

    def new_links(low, high=None):
        condition = ((SalesRepLink.rowid >= low) & SalesRepLink.fk_soc.in_(selected)
                     & SalesRepLink.fk_user.in_(_targets(request)))
        if high is not None:
            condition &= SalesRepLink.rowid <= high
        if schema.salesrep_type_code:
            condition &= SalesRepLink.type_code == SALESREP_TYPE_CODE
        return (SalesRepLink.select(SalesRepLink.fk_soc, SalesRepLink.fk_user)
                .from_(journal.by_primary_key(SalesRepLink)).where(condition))

    def write(links):
        return database.execute(BatchSalesRep.insert_from(
            links.select(Value(batch_id), Value("+"), SalesRepLink.rowid, SalesRepLink.fk_soc,
                         SalesRepLink.fk_user, Value(SALESREP_TYPE_CODE)),
            [BatchSalesRep.batch_id, BatchSalesRep.change, BatchSalesRep.link_rowid,
             BatchSalesRep.fk_soc, BatchSalesRep.fk_user, BatchSalesRep.type_code])).rowcount

    last = first + count - 1
    journaled = write(new_links(first, last))
    if journaled == count:
        # All of them in [first, last], which thus holds no other row: read by range alone.
        return (SalesRepLink.select(SalesRepLink.fk_soc, SalesRepLink.fk_user)
                .from_(journal.by_primary_key(SalesRepLink))
                .where(SalesRepLink.rowid.between(first, last)))
    journaled += write(new_links(last + 1))
    if journaled != count:
        raise RuntimeError(f"sales-rep links added: {count}, found by row id: {journaled}")
    return new_links(first)


def _outcome(batch_id, selected, links_added, links_removed, added, entity):
    """Per-user effects and examples (three queries) from the links just added, read by
    primary key (``added``), and the batch's journal rows of those removed; the totals
    are the statements' row counts."""
    changes = (BatchSalesRep.select(BatchSalesRep.fk_soc, BatchSalesRep.fk_user,
                                    SQL("0").alias("added"), SQL("1").alias("removed"))
               .where(BatchSalesRep.batch_id == batch_id, BatchSalesRep.change == "-"))
    if added is not None:
        changes = added.select(SalesRepLink.fk_soc, SalesRepLink.fk_user, SQL("1").alias("added"),
                               SQL("0").alias("removed")).union_all(changes)
    changes = changes.alias("c")
    per_user = {}
    if links_added or links_removed:
        per_user = {user_id: {"added": int(gained or 0), "removed": int(lost or 0)}
                    for user_id, gained, lost in database.execute(
                        Select([changes], [changes.c.fk_user, fn.SUM(changes.c.added),
                                           fn.SUM(changes.c.removed)])
                        .group_by(changes.c.fk_user)).fetchall()}
    users = _users(per_user, entity) if per_user else {}
    sees_all = _sees_all(per_user, entity) if per_user else set()
    thirdparties_changed, examples = 0, []
    if per_user:
        thirdparties_changed = database.execute(
            Select([changes], [fn.COUNT(changes.c.fk_soc.distinct())])).fetchone()[0]
        examples = [row[0] for row in Thirdparty.select(Thirdparty.name)
                    .where(Thirdparty.rowid.in_(Select([changes], [changes.c.fk_soc])))
                    .order_by(Thirdparty.name).limit(8).tuples()]
    return Outcome(
        batch_id=batch_id,
        selected=selected,
        thirdparties=thirdparties_changed or 0,
        links_added=links_added,
        links_removed=links_removed,
        per_user=[{
            "user_id": user_id,
            "name": users[user_id].full_name if user_id in users else f"user {user_id}",
            "active": bool(users[user_id].is_active) if user_id in users else False,
            "added": row["added"], "removed": row["removed"],
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
