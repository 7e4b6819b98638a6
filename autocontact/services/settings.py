"""autocontact's settings, kept in Dolibarr's llx_const as AUTOCONTACT_* constants.

Read once per request (one query, entity rows overriding entity 0 as Dolibarr
does), written the way dolibarr_set_const writes: delete name+entity, insert.
"""
import json
from peewee import fn

from ..dolibarr.models import Constant, database

PREFIX = "AUTOCONTACT_"
# Dolibarr settings autocontact also needs to read.
DOLIBARR_KEYS = ("MAIN_SECURITY_SALT", "MAIN_SECURITY_HASH_ALGO")

EDITOR_GROUPS = "AUTOCONTACT_EDITOR_GROUPS"
EDITOR_LDAP_GROUPS = "AUTOCONTACT_EDITOR_LDAP_GROUPS"
MANAGER_GROUPS = "AUTOCONTACT_MANAGER_GROUPS"
MANAGER_LDAP_GROUPS = "AUTOCONTACT_MANAGER_LDAP_GROUPS"


def read_constants(entity):
    """All AUTOCONTACT_* and the few Dolibarr constants we use, in one query."""
    query = (
        Constant.select(Constant.name, Constant.value)
        .where(
            Constant.entity.in_((0, entity)),
            (fn.SUBSTR(Constant.name, 1, len(PREFIX)) == PREFIX)
            | Constant.name.in_(DOLIBARR_KEYS)
            | (fn.SUBSTR(Constant.name, 1, 12) == "MAIN_MODULE_"),
        )
        .order_by(Constant.entity)
        .tuples()
    )
    return {name: value for name, value in query}


def json_list(constants, name):
    """A list stored as JSON text; anything unreadable counts as empty."""
    try:
        value = json.loads(constants.get(name) or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def write_constants(entity, values):
    """Store constants as dolibarr_set_const does: delete name+entity, then insert.

    ``values`` maps names to strings; None or "" deletes the constant.
    Two statements whatever the number of constants; the caller owns the transaction.
    """
    if not values:
        return
    with database.atomic():
        Constant.delete().where(Constant.name.in_(list(values)), Constant.entity == entity).execute()
        rows = [
            {"name": name, "entity": entity, "value": value, "type": "chaine", "visible": 0,
             "note": "autocontact"}
            for name, value in values.items() if value not in (None, "")
        ]
        if rows:
            Constant.insert_many(rows).execute()


def dumps_list(items):
    return json.dumps(list(items), ensure_ascii=False)
