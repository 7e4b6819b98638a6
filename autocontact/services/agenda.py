"""Dolibarr agenda events for the thirdparties a batch changed.

Each batch that touches sales representatives or document contacts leaves
one automatic event per thirdparty in ``llx_actioncomm``, so the change shows
in the thirdparty's *Events* tab like the events Dolibarr writes itself.

What Dolibarr writes for an automatic event (read in Dolibarr/dolibarr):

* ``htdocs/core/triggers/interface_50_modAgenda_ActionsAuto.class.php``,
  ``InterfaceActionsAuto::runTrigger()``: ``type_code = 'AC_OTH_AUTO'`` unless the
  caller set one; ``code = 'AC_'.$action``; ``label`` = actionmsg2 (short),
  ``note_private`` = actionmsg (long); ``datep = datef = now``; ``durationp = 0``;
  ``percentage = -1`` ("Not applicable"); ``socid`` = the thirdparty;
  ``contact_id`` only when exactly one contact is in ``sendtoid`` (an empty
  array for COMPANY_CREATE / COMPANY_MODIFY, so none); ``authorid`` =
  ``userownerid`` = the acting user; ``fk_element`` / ``elementtype`` are set
  **only if** the object is not a 'societe', 'contact' or 'project' ("there is
  already a dedicated field": fk_soc), so an event on a thirdparty has both
  NULL. COMPANY_LINK_SALE_REPRESENTATIVE is a trigger of
  ``Societe::add_commercial()`` but has no row in ``llx_c_action_trigger``
  (``htdocs/install/mysql/data/llx_c_action_trigger.sql``), so Dolibarr's agenda
  setup never offers to log it.
* ``htdocs/comm/action/class/actioncomm.class.php``, ``ActionComm::create()``:
  resolves ``type_code`` to its id in ``llx_c_actioncomm`` (``fk_action``; it
  refuses to create the event if the type is unknown); inserts ``ref = '(PROV)'``
  then ``UPDATE … SET ref = <new id>``; ``datec = now``, ``datep``,
  ``datep2 = datef``; ``fk_user_author`` = the user creating it,
  ``fk_user_action`` = owner; ``label`` cut to 128 characters;
  ``percent``, ``priority = 0``, ``fulldayevent = 0``, ``transparency = 0``,
  ``location = ''``; ``entity = $conf->entity``; ``event_paid = 0``,
  ``status = 0``; ``fk_project``, ``fk_contact``, ``fk_user_done``, ``ref_ext``,
  ``extraparams``, e-mail and recurrence columns NULL; ``visibility`` and
  ``fk_parent`` are not written (table defaults 'default' and 0). It then adds
  the owner to ``llx_actioncomm_resources`` (element_type 'user',
  mandatory 0, transparency 0, answer_status 0).
* ``htdocs/install/mysql/data/llx_c_actioncomm.sql``: AC_OTH_AUTO is id 40,
  type 'systemauto' ("Other (automatically inserted events)"); it is looked up
  by code here, never assumed.

Choices made here:

* ``code = 'AC_AUTOCONTACT'``: the trigger's 'AC_' + action convention, with an
  action name of our own (the trigger also logs actions "defined by an
  external module like SENTBYSMS"). 'AC_COMPANY_MODIFY' would claim the
  thirdparty card was edited, and 'AC_COMPANY_LINK_SALE_REPRESENTATIVE' is one
  added rep, while one event here covers reps added and removed and document
  follow-up contacts; an own code keeps the rows recognisable (indexed column).
* ``llx_c_actioncomm`` and ``llx_actioncomm_resources`` are core tables of any
  Dolibarr, but Dolibarr's demo dump as used by the project (and the demo
  built from it) does not hold them: when ``llx_c_actioncomm`` is missing,
  ``fk_action`` is NULL (Dolibarr's lists LEFT JOIN it, so the event is still
  listed, without a type label); when ``llx_actioncomm_resources`` is missing,
  no owner row is written.
* Dates are the server's local time, like the journal's.

Statements, whatever the number of thirdparties: one to see which of those two
tables exist, one INSERT … SELECT of the events (ref = a placeholder naming the
batch), one INSERT … SELECT of the owner rows (if that table exists), one
UPDATE setting ref to the id. All run in the caller's transaction.
"""
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import (
    JOIN,
    Cast,
    CharField,
    DoubleField,
    IntegerField,
    Table,
    Value,
    fn,
)

from ..dolibarr.models import AgendaEvent, Contact, Thirdparty, User
from ..dolibarr.tool_tables import BatchContact, BatchSalesRep

EVENT_CODE = "AC_AUTOCONTACT"
TYPE_CODE = "AC_OTH_AUTO"
PERCENT_NOT_APPLICABLE = -1
# Written in the language of the user making the change (Dolibarr shows it as it is).
LABEL = _l("Sales reps / follow-up contacts changed by autocontact (batch #{batch_id})")
LABEL_MAX = 128      # ActionComm::create() cuts the label to 128 characters
LISTING_LIMIT = 1000  # show_actions_done() reads at most 1000 (+1) events


def _extra(name, field):
    """A column of llx_actioncomm that models.AgendaEvent does not declare."""
    field.bind(AgendaEvent, name, set_attribute=False)
    return field


# Columns written or read here beyond those declared on AgendaEvent.
EXTRA_FIELDS = {
    "durationp": _extra("durationp", DoubleField(null=True)),
    "priority": _extra("priority", IntegerField(null=True)),
    "fulldayevent": _extra("fulldayevent", IntegerField(default=0)),
    "location": _extra("location", CharField(null=True)),
    "transparency": _extra("transparency", IntegerField(null=True)),
    "event_paid": _extra("event_paid", IntegerField(default=0)),
    "status": _extra("status", IntegerField(default=0)),
    "fk_contact": _extra("fk_contact", IntegerField(null=True)),
    "fk_project": _extra("fk_project", IntegerField(null=True)),
    "visibility": _extra("visibility", CharField(null=True)),
}
_F = EXTRA_FIELDS


def _prefix():
    """The table prefix the models are bound to (``llx_`` by default)."""
    return AgendaEvent._meta.table_name[: -len(AgendaEvent._meta.dolibarr_table)]


def _optional_tables():
    """Which of Dolibarr's agenda dictionary / resource tables exist: one query."""
    database = AgendaEvent._meta.database
    existing = {name.lower() for name in database.get_tables()}
    prefix = _prefix()
    types = resources = None
    if (prefix + "c_actioncomm").lower() in existing:
        types = Table(prefix + "c_actioncomm", ("id", "code", "type", "libelle", "picto"))
        types = types.bind(database)
    if (prefix + "actioncomm_resources").lower() in existing:
        resources = Table(prefix + "actioncomm_resources",
                          ("rowid", "fk_actioncomm", "element_type", "fk_element",
                           "mandatory", "transparency", "answer_status"))
        resources = resources.bind(database)
    return types, resources


def touched_thirdparties(batch_id):
    """The ids of the thirdparties a batch changed (sales reps and document contacts)."""
    return (BatchSalesRep.select(BatchSalesRep.fk_soc)
            .where(BatchSalesRep.batch_id == batch_id, BatchSalesRep.fk_soc.is_null(False))
            | BatchContact.select(BatchContact.fk_soc)
            .where(BatchContact.batch_id == batch_id, BatchContact.fk_soc.is_null(False)))


def record_events(batch_id, entity, actor, summary):
    """Write one Dolibarr agenda event per thirdparty the batch touched; return how many.

    Runs in the caller's transaction (open one around it), with a fixed number
    of statements. ``actor`` needs ``user_id``; ``summary`` is the batch's
    description, kept in the event's note.
    """
    now = datetime.now().replace(microsecond=0)
    placeholder = f"AUTOCONTACT-{int(batch_id)}"  # ref until the id is known, like '(PROV)'
    label = str(LABEL).format(batch_id=int(batch_id))[:LABEL_MAX]
    reference = _("autocontact batch #%(id)s", id=int(batch_id))
    note = f"{summary}\n\n{reference}" if summary else reference
    types, resources = _optional_tables()
    if types is not None:
        type_id = types.select(fn.MIN(types.id)).where(types.code == TYPE_CODE)
    else:
        type_id = Value(None)

    columns = [
        (AgendaEvent.ref, Value(placeholder)),
        (AgendaEvent.entity, Value(int(entity))),
        (AgendaEvent.datec, Value(now)),
        (AgendaEvent.datep, Value(now)),
        (AgendaEvent.datep2, Value(now)),
        (_F["durationp"], Value(0)),
        (AgendaEvent.fk_action, type_id),
        (AgendaEvent.code, Value(EVENT_CODE)),
        (AgendaEvent.fk_soc, Thirdparty.rowid),
        (AgendaEvent.note, Value(note)),
        (AgendaEvent.fk_user_author, Value(actor.user_id)),
        (AgendaEvent.fk_user_action, Value(actor.user_id)),
        (AgendaEvent.label, Value(label)),
        (AgendaEvent.percent, Value(PERCENT_NOT_APPLICABLE)),
        (_F["priority"], Value(0)),
        (_F["fulldayevent"], Value(0)),
        (_F["location"], Value("")),
        (_F["transparency"], Value(0)),
        (_F["event_paid"], Value(0)),
        (_F["status"], Value(0)),
    ]
    source = (Thirdparty.select(*(value for _, value in columns))
              .where(Thirdparty.rowid.in_(touched_thirdparties(batch_id)))
              .order_by(Thirdparty.rowid))
    written = (AgendaEvent.insert_from(source, [column for column, _ in columns])
               .as_rowcount().execute())
    if not written:
        return 0
    just_written = (AgendaEvent.ref == placeholder) & (AgendaEvent.entity == int(entity))
    if resources is not None:
        (resources.insert(
            AgendaEvent.select(AgendaEvent.id, Value("user"), Value(actor.user_id),
                               Value(0), Value(0), Value("0"))
            .where(just_written),
            columns=[resources.fk_actioncomm, resources.element_type, resources.fk_element,
                     resources.mandatory, resources.transparency, resources.answer_status])
         .execute())
    (AgendaEvent.update({AgendaEvent.ref: Cast(AgendaEvent.id, "CHAR")})
     .where(just_written).execute())
    return written


def events_for(thirdparty_id, entity, donetodo="", code=None):
    """A thirdparty's events as Dolibarr's Events tab lists them, newest first.

    The query of ``show_actions_done()`` (htdocs/core/lib/company.lib.php) for a
    Societe, as ``htdocs/societe/agenda.php`` calls it: llx_actioncomm LEFT JOIN
    the owner (llx_user on fk_user_action), the type (llx_c_actioncomm on
    fk_action, when that table exists) and the contact (llx_socpeople on
    fk_contact); ``a.entity IN (getEntity('agenda'))`` (just the entity without
    the Multicompany module), ``a.fk_soc = X``; ``donetodo`` as in
    ``addOtherFilterSQL()`` ('done': percent 100, or -1 with datep <= now;
    'todo': the opposite; '' as the Events tab: all); ordered by datep DESC,
    id DESC, at most 1000 rows. ``code`` (not Dolibarr's) narrows to one code.
    """
    types, _ = _optional_tables()
    owner = User.alias("u")
    contact = Contact.alias("sp")
    if types is not None:
        kind = types.alias("c")
        type_columns = (kind.code.alias("acode"), kind.libelle.alias("alabel"),
                        kind.picto.alias("apicto"))
    else:
        type_columns = (Value(None).alias("acode"), Value(None).alias("alabel"),
                        Value(None).alias("apicto"))
    query = (AgendaEvent
             .select(AgendaEvent.id, AgendaEvent.ref, AgendaEvent.label,
                     AgendaEvent.datep.alias("dp"), AgendaEvent.datep2.alias("dp2"),
                     AgendaEvent.percent, Value("action").alias("type"),
                     AgendaEvent.fk_element, AgendaEvent.elementtype, _F["fk_contact"],
                     AgendaEvent.code, AgendaEvent.note, AgendaEvent.fk_action,
                     AgendaEvent.fk_user_author, *type_columns,
                     owner.rowid.alias("user_id"), owner.login.alias("user_login"),
                     owner.firstname.alias("user_firstname"),
                     owner.lastname.alias("user_lastname"),
                     contact.lastname, contact.firstname)
             .join(owner, JOIN.LEFT_OUTER, on=(owner.rowid == AgendaEvent.fk_user_action)))
    if types is not None:
        query = query.join(kind, JOIN.LEFT_OUTER, on=(AgendaEvent.fk_action == kind.id),
                           src=AgendaEvent)
    query = (query
             .join(contact, JOIN.LEFT_OUTER, on=(_F["fk_contact"] == contact.rowid),
                   src=AgendaEvent)
             .where(AgendaEvent.entity.in_([int(entity)]),
                    AgendaEvent.fk_soc == int(thirdparty_id)))
    now = datetime.now().replace(microsecond=0)
    if donetodo == "done":
        query = query.where((AgendaEvent.percent == 100)
                            | ((AgendaEvent.percent == -1) & (AgendaEvent.datep <= now)))
    elif donetodo == "todo":
        query = query.where(((AgendaEvent.percent >= 0) & (AgendaEvent.percent < 100))
                            | ((AgendaEvent.percent == -1) & (AgendaEvent.datep > now)))
    elif donetodo:
        raise ValueError(f"donetodo must be '', 'done' or 'todo', not {donetodo!r}")
    if code is not None:
        query = query.where(AgendaEvent.code == code)
    return list(query.order_by(AgendaEvent.datep.desc(), AgendaEvent.id.desc())
                .limit(LISTING_LIMIT).dicts())


def wanted(agenda, entity):
    """Whether to write events: as asked, else as setup says (AUTOCONTACT_AGENDA_EVENTS)."""
    if agenda is not None:
        return agenda
    from . import settings
    return settings.load(entity).agenda_events
