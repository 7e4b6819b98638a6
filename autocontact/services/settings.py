"""autocontact's settings, kept in Dolibarr's llx_const as AUTOCONTACT_* constants.

Read once per request (one query, entity rows overriding entity 0 as Dolibarr
does); written the way dolibarr_set_const writes (delete name+entity, then
insert), in one transaction with the journal entry that records the change.
"""
import json
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta

from flask_babel import gettext as _
from peewee import JOIN, fn

from ..dolibarr import doctypes
from ..dolibarr.models import Constant, ContactType, UserGroup, UserGroupMember, database
from .ldap_auth import is_valid_dn, normalize_dn

PREFIX = "AUTOCONTACT_"
# Dolibarr settings autocontact also reads.
DOLIBARR_KEYS = ("MAIN_SECURITY_SALT", "MAIN_SECURITY_HASH_ALGO", "MAIN_LANG_DEFAULT")
# The modules of the document types, and two that every Dolibarr has switched on (users,
# thirdparties): when none of these is in llx_const, the database was not set up by
# Dolibarr's module screens (a bare schema) and no type is hidden.
MODULE_KEYS = tuple(sorted({doc_type.module_constant for doc_type in doctypes.DOC_TYPES}
                           | {"MAIN_MODULE_USER", "MAIN_MODULE_SOCIETE"}))

EDITOR_GROUPS = "AUTOCONTACT_EDITOR_GROUPS"
EDITOR_LDAP_GROUPS = "AUTOCONTACT_EDITOR_LDAP_GROUPS"
MANAGER_GROUPS = "AUTOCONTACT_MANAGER_GROUPS"
MANAGER_LDAP_GROUPS = "AUTOCONTACT_MANAGER_LDAP_GROUPS"

DATE_FIELDS = ("document", "creation")
PERIODS = ("current_year", "last_12_months", "last_2_years", "custom")
GROUP_LISTS = ("editor_groups", "manager_groups")
MAX_DNS, MAX_DN_LENGTH = 50, 500    # keeps each stored list well inside a TEXT column
DN_LISTS = ("editor_ldap_groups", "manager_ldap_groups")


class SettingsInvalid(Exception):
    """One or more fields are wrong; ``errors`` maps field paths to messages."""

    def __init__(self, errors):
        self.errors = errors
        field_name, message = next(iter(errors.items()))
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class DocTypeSettings:
    enabled: bool
    contact_type: str | None      # code in llx_c_type_contact (internal, this element)
    date_field: str               # "document" (its own date) or "creation"
    closed_statuses: tuple        # left alone by the "open documents only" scope
    force_when_module_disabled: bool = False   # use it even when Dolibarr's module is off


@dataclass(frozen=True)
class Settings:
    doc_types: dict
    editor_groups: tuple = ()
    editor_ldap_groups: tuple = ()
    manager_groups: tuple = ()
    manager_ldap_groups: tuple = ()
    allow_remove_all: bool = False
    default_period: str = "current_year"
    default_date_from: date | None = None
    default_date_to: date | None = None
    agenda_events: bool = False
    # Not a setting: Dolibarr module name -> switched on (MAIN_MODULE_<NAME>), read with the
    # settings; None when the database has no module constants at all (nothing is hidden).
    modules: dict | None = field(default=None, compare=False)

    def module_enabled(self, element):
        """Whether Dolibarr's module of this document type is switched on for the entity."""
        if self.modules is None:
            return True
        return self.modules.get(doctypes.get(element).module, False)

    def available(self, element):
        """The type can be used: its Dolibarr module is on, or setup forces it."""
        return (self.module_enabled(element)
                or self.doc_types[element].force_when_module_disabled)

    def unavailable_reason(self, element):
        """Why a document type cannot be used right now (None when it can)."""
        if self.available(element):
            return None
        doc_type = doctypes.get(element)
        return _("%(type)s (%(element)s) is unavailable: Dolibarr's %(module)s module is "
                 "disabled (%(constant)s is not set for this company). A manager can force "
                 "the type in setup.", type=doc_type.label, element=element,
                 module=doc_type.module_label, constant=doc_type.module_constant)

    def usable(self, element):
        """Enabled in setup and available in Dolibarr."""
        return self.doc_types[element].enabled and self.available(element)

    def effective(self):
        """These settings with every type that cannot be used marked as not enabled."""
        return replace(self, doc_types={
            element: replace(value, enabled=self.usable(element))
            for element, value in self.doc_types.items()})

    def default_range(self, today=None):
        """The period the document dialog starts with."""
        today = today or date.today()
        if self.default_period == "custom" and self.default_date_from and self.default_date_to:
            return self.default_date_from, self.default_date_to
        years = {"last_12_months": 1, "last_2_years": 2}.get(self.default_period)
        if years:
            return _years_before(today, years) + timedelta(days=1), today
        return date(today.year, 1, 1), date(today.year, 12, 31)

    def as_dict(self):
        """The JSON shape of GET /api/settings."""
        body = asdict(self)
        del body["modules"]
        body["doc_types"] = {
            element: {**asdict(value), "closed_statuses": list(value.closed_statuses)}
            for element, value in self.doc_types.items()
        }
        for name in GROUP_LISTS + DN_LISTS:
            body[name] = list(body[name])
        for name in ("default_date_from", "default_date_to"):
            body[name] = body[name].isoformat() if body[name] else None
        return body

    def to_constants(self):
        """Every setting as the llx_const name and text value it is stored under."""
        values = {}
        for element, value in self.doc_types.items():
            key = f"{PREFIX}DOC_{element.upper()}_"
            values[key + "ENABLED"] = "1" if value.enabled else "0"
            values[key + "CONTACT_TYPE"] = value.contact_type or ""
            values[key + "DATE"] = value.date_field
            values[key + "CLOSED"] = json.dumps(list(value.closed_statuses))
            values[key + "FORCE"] = "1" if value.force_when_module_disabled else "0"
        values[EDITOR_GROUPS] = json.dumps(list(self.editor_groups))
        values[EDITOR_LDAP_GROUPS] = json.dumps(list(self.editor_ldap_groups), ensure_ascii=False)
        values[MANAGER_GROUPS] = json.dumps(list(self.manager_groups))
        values[MANAGER_LDAP_GROUPS] = json.dumps(list(self.manager_ldap_groups), ensure_ascii=False)
        values[f"{PREFIX}ALLOW_REMOVE_ALL"] = "1" if self.allow_remove_all else "0"
        values[f"{PREFIX}DEFAULT_PERIOD"] = self.default_period
        values[f"{PREFIX}DEFAULT_DATE_FROM"] = (self.default_date_from.isoformat()
                                                 if self.default_date_from else "")
        values[f"{PREFIX}DEFAULT_DATE_TO"] = (self.default_date_to.isoformat()
                                               if self.default_date_to else "")
        values[f"{PREFIX}AGENDA_EVENTS"] = "1" if self.agenda_events else "0"
        return values


def _years_before(day, years):
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# --- reading -------------------------------------------------------------------

def read_constants(entity):
    """All AUTOCONTACT_* and the few Dolibarr constants we use: one query."""
    query = (
        Constant.select(Constant.name, Constant.value)
        .where(
            Constant.entity.in_((0, entity)),
            (fn.SUBSTR(Constant.name, 1, len(PREFIX)) == PREFIX)
            | Constant.name.in_(DOLIBARR_KEYS + MODULE_KEYS),
        )
        .order_by(Constant.entity)
        .tuples()
    )
    return {name: value for name, value in query}


def _json_list(text):
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _date_or_none(text):
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def from_constants(constants):
    """Settings from stored constants; anything missing or unreadable takes its default."""
    doc_types = {}
    for doc_type in doctypes.DOC_TYPES:
        key = f"{PREFIX}DOC_{doc_type.element.upper()}_"
        closed = constants.get(key + "CLOSED")
        date_field = constants.get(key + "DATE")
        if date_field not in DATE_FIELDS or not doc_type.date_column:
            date_field = "document" if doc_type.date_column else "creation"
        doc_types[doc_type.element] = DocTypeSettings(
            enabled=constants.get(key + "ENABLED", "1") != "0",
            contact_type=constants.get(key + "CONTACT_TYPE") or doc_type.default_contact_code,
            date_field=date_field,
            closed_statuses=(tuple(s for s in _json_list(closed) if type(s) is int)
                             if closed is not None else doc_type.closed_statuses),
            force_when_module_disabled=constants.get(key + "FORCE") == "1",
        )
    period = constants.get(f"{PREFIX}DEFAULT_PERIOD")
    return Settings(
        doc_types=doc_types,
        editor_groups=tuple(g for g in _json_list(constants.get(EDITOR_GROUPS)) if isinstance(g, int)),
        editor_ldap_groups=tuple(d for d in _json_list(constants.get(EDITOR_LDAP_GROUPS))
                                 if isinstance(d, str)),
        manager_groups=tuple(g for g in _json_list(constants.get(MANAGER_GROUPS))
                             if isinstance(g, int)),
        manager_ldap_groups=tuple(d for d in _json_list(constants.get(MANAGER_LDAP_GROUPS))
                                  if isinstance(d, str)),
        allow_remove_all=constants.get(f"{PREFIX}ALLOW_REMOVE_ALL") == "1",
        default_period=period if period in PERIODS else "current_year",
        default_date_from=_date_or_none(constants.get(f"{PREFIX}DEFAULT_DATE_FROM")),
        default_date_to=_date_or_none(constants.get(f"{PREFIX}DEFAULT_DATE_TO")),
        agenda_events=constants.get(f"{PREFIX}AGENDA_EVENTS") == "1",
        modules=_modules(constants),
    )


def _modules(constants):
    """Dolibarr's modules as Conf::setValues reads them: on when the value is not empty or
    "0" (the entity's row wins over entity 0's); None without any module constant."""
    if not any(name in constants for name in MODULE_KEYS):
        return None
    return {name.removeprefix("MAIN_MODULE_"): constants.get(name) not in (None, "", "0")
            for name in MODULE_KEYS}


def load(entity):
    return from_constants(read_constants(entity))


@dataclass
class Choices:
    """What the setup screen offers: read from Dolibarr's dictionary and groups."""
    contact_types: dict   # element -> [ContactType rows], active internal only
    groups: list          # [{id, name, members}] of the entity

    def contact_codes(self, element):
        return {row.code for row in self.contact_types.get(element, ())}

    def group_ids(self):
        return {group["id"] for group in self.groups}


def choices(entity):
    """Active internal contact types per element, and the entity's groups: two queries."""
    contact_types = {}
    query = (ContactType.select()
             .where(ContactType.source == "internal", ContactType.active == 1,
                    ContactType.element.in_([d.element for d in doctypes.DOC_TYPES]))
             .order_by(ContactType.element, ContactType.position, ContactType.code))
    for row in query:
        contact_types.setdefault(row.element, []).append(row)
    members = fn.COUNT(UserGroupMember.rowid)
    groups = [
        {"id": row.rowid, "name": row.name, "members": row.members}
        for row in UserGroup.select(UserGroup.rowid, UserGroup.name, members.alias("members"))
        .join(UserGroupMember, on=((UserGroupMember.fk_usergroup == UserGroup.rowid)
                                   & (UserGroupMember.entity == entity)), join_type=JOIN.LEFT_OUTER)
        .where(UserGroup.entity == entity)
        .group_by(UserGroup.rowid, UserGroup.name)
        .order_by(UserGroup.name)
    ]
    return Choices(contact_types=contact_types, groups=groups)


# --- changing ------------------------------------------------------------------

def _as_bool(value, path, errors):
    if isinstance(value, bool):
        return value
    if (type(value) is int or isinstance(value, str)) and value in (
            0, 1, "0", "1", "true", "false", "on", "off"):
        return value in (1, "1", "true", "on")
    errors[path] = _("Must be true or false.")
    return None


def _as_int(value):
    """A whole number given as a JSON integer or digits; None for anything else."""
    if type(value) is int:
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()):
        return int(value)
    return None


def _as_list(value, path, errors):
    if isinstance(value, (list, tuple)):
        return list(value)
    errors[path] = _("Must be a list.")
    return None


def apply_changes(current, payload, available):
    """Return new Settings from ``current`` and a partial ``payload`` (the API's shape).

    Raises SettingsInvalid naming every wrong field; nothing is half-applied.
    """
    if not isinstance(payload, dict):
        raise SettingsInvalid({"": _("Send a JSON object of settings.")})
    errors, changes = {}, {}
    known = set(Settings.__dataclass_fields__) - {"modules"}
    for name in payload:
        if name not in known:
            errors[name] = _("Unknown setting '%(name)s'.", name=name)

    doc_types = dict(current.doc_types)
    given = payload.get("doc_types", {})
    if not isinstance(given, dict):
        errors["doc_types"] = _("Must be an object keyed by document type.")
        given = {}
    for element, value in given.items():
        path = f"doc_types.{element}"
        doc_type = doctypes.get(element)
        if doc_type is None:
            errors[path] = _("Unknown document type '%(element)s'.", element=element)
            continue
        if not isinstance(value, dict):
            errors[path] = _("Must be an object.")
            continue
        merged = asdict(doc_types[element])
        for key, item in value.items():
            if key not in merged:
                errors[f"{path}.{key}"] = _("Unknown field '%(key)s'.", key=key)
                continue
            if key in ("enabled", "force_when_module_disabled"):
                item = _as_bool(item, f"{path}.{key}", errors)
            elif key == "contact_type":
                codes = available.contact_codes(element)
                if item in ("", None):
                    item = None  # allowed while the type is disabled, checked below
                elif not isinstance(item, str) or item not in codes:
                    errors[f"{path}.contact_type"] = _(
                        "'%(code)s' is not an active internal contact type of %(type)s in "
                        "Dolibarr's dictionary (choose among: %(codes)s).",
                        code=str(item)[:40], type=doc_type.label,
                        codes=", ".join(sorted(codes)) or _("none"))
            elif key == "date_field":
                if item not in DATE_FIELDS:
                    errors[f"{path}.date_field"] = _("Must be 'document' or 'creation'.")
                elif item == "document" and not doc_type.date_column:
                    errors[f"{path}.date_field"] = _(
                        "%(type)s has no date of its own: use its creation date.",
                        type=doc_type.label)
            elif key == "closed_statuses":
                item = _as_list(item, f"{path}.closed_statuses", errors)
                if item is not None:
                    numbers = [_as_int(status) for status in item]
                    if None in numbers:
                        errors[f"{path}.closed_statuses"] = _("Must be a list of status numbers.")
                        continue
                    item = tuple(sorted(set(numbers)))
                    unknown = [s for s in item if s not in doc_type.statuses]
                    if unknown:
                        errors[f"{path}.closed_statuses"] = _(
                            "Unknown status %(status)s for %(type)s.", status=unknown[0],
                            type=doc_type.label)
            merged[key] = item
        if merged["enabled"] and not merged["contact_type"]:
            errors.setdefault(f"{path}.contact_type",
                              _("%(type)s needs a contact type to be enabled.",
                                type=doc_type.label))
        doc_types[element] = DocTypeSettings(**{**merged,
                                                "closed_statuses": tuple(merged["closed_statuses"] or ())})
    changes["doc_types"] = doc_types

    for name in GROUP_LISTS:
        if name in payload:
            items = _as_list(payload[name], name, errors)
            if items is None:
                continue
            numbers = [_as_int(item) for item in items]
            if None in numbers:
                errors[name] = _("Must be a list of Dolibarr group ids.")
                continue
            ids = tuple(sorted(set(numbers)))
            unknown = [group_id for group_id in ids if group_id not in available.group_ids()]
            if unknown:
                errors[name] = _("Group %(id)s is not a user group of this company.",
                                 id=unknown[0])
            changes[name] = ids
    for name in DN_LISTS:
        if name in payload:
            items = _as_list(payload[name], name, errors)
            if items is None:
                continue
            if len(items) > MAX_DNS:
                errors[name] = _("At most %(count)s LDAP groups.", count=MAX_DNS)
                continue
            cleaned = []
            for item in items:
                text = item.strip() if isinstance(item, str) else None
                if not text:
                    continue
                if len(text) > MAX_DN_LENGTH or not is_valid_dn(text):
                    errors[name] = _("'%(dn)s' is not a valid LDAP DN (e.g. "
                                     "cn=sales,ou=groups,dc=example,dc=com).", dn=str(item)[:80])
                    break
                if normalize_dn(text) not in {normalize_dn(dn) for dn in cleaned}:
                    cleaned.append(text)
            changes[name] = tuple(cleaned)
    for name in ("allow_remove_all", "agenda_events"):
        if name in payload:
            changes[name] = _as_bool(payload[name], name, errors)
    if "default_period" in payload:
        if payload["default_period"] not in PERIODS:
            errors["default_period"] = _("Must be one of %(choices)s.",
                                         choices=", ".join(PERIODS))
        changes["default_period"] = payload["default_period"]
    for name in ("default_date_from", "default_date_to"):
        if name in payload:
            value = payload[name]
            if value in (None, ""):
                changes[name] = None
            else:
                parsed = (_date_or_none(value) if isinstance(value, str)
                          and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None)
                if parsed is None:
                    errors[name] = _("Must be a date written YYYY-MM-DD.")
                changes[name] = parsed
    if errors:
        raise SettingsInvalid(errors)
    new = replace(current, **changes)
    if new.default_period == "custom":
        if not (new.default_date_from and new.default_date_to):
            errors["default_date_from"] = _("A custom period needs both dates.")
        elif new.default_date_to < new.default_date_from:
            errors["default_date_to"] = _("The end date is before the start date.")
    if errors:
        raise SettingsInvalid(errors)
    return new


def write_constants(entity, values):
    """Store constants as dolibarr_set_const does: delete name+entity, then insert.

    ``values`` maps names to text; None or "" only deletes. Two statements
    whatever the number of constants; runs inside the caller's transaction.
    """
    if not values:
        return
    with database.atomic():
        Constant.delete().where(Constant.name.in_(list(values)), Constant.entity == entity).execute()
        rows = [{"name": name, "entity": entity, "value": value, "type": "chaine", "visible": 0,
                 "note": "Set by autocontact"}
                for name, value in values.items() if value not in (None, "")]
        if rows:
            Constant.insert_many(rows).execute()


def save(actor, entity, new):
    """Store the settings that differ and journal them; return the batch id or None.

    Managers only. One transaction: the journal rows and the constants.
    """
    from . import journal, permissions
    permissions.require(actor, permissions.MANAGER)
    current = load(entity).to_constants()
    changed = {name: value for name, value in new.to_constants().items()
               if current.get(name) != value}
    if not changed:
        return None
    names = ", ".join(sorted(name.removeprefix(PREFIX) for name in changed))
    with database.atomic():
        batch_id = journal.start_batch(actor, entity, "settings", {"changed": sorted(changed)},
                                       _("Setup changed: %(names)s", names=names),
                                       rows_changed=len(changed))
        journal.record_settings(batch_id, entity, changed)
        write_constants(entity, changed)
    return batch_id
