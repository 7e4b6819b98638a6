"""Checking who someone is: Dolibarr passwords and LDAP, in Dolibarr's order.

The backends are tried in the order of ``$dolibarr_main_authentication``
(e.g. ``ldap,dolibarr``). Whatever backend accepts the password, the person
must then be an active internal Dolibarr user of the entity.
"""
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from peewee import fn

from ..dolibarr.models import User
from . import ldap_auth, passwords, throttle
from .directory import user_entities

WRONG_CREDENTIALS = _l("Wrong login or password.")


class LoginRefused(Exception):
    """Authentication failed; the message is safe to show to the person."""


@dataclass
class Authenticated:
    user: User
    backend: str
    ldap_groups: tuple | None = None


def find_user(login, entity):
    """The Dolibarr user with this login in the entity (or shared entity 0).

    Matched case-insensitively, as MariaDB's collation on llx_user.login does;
    an entity-specific user wins over a shared one.
    """
    if not login:
        return None
    return (
        User.select()
        .where(fn.LOWER(User.login) == login.lower(), User.entity.in_(user_entities(entity)))
        .order_by(User.entity.desc())
        .first()
    )


def may_use(user):
    """Whether a Dolibarr user may use the tool (checked on every request)."""
    return user is not None and user.is_internal and user.is_active


def refusal_for(user):
    """Why a Dolibarr user may not use the tool, or None when they may."""
    if user is None:
        return _("There is no Dolibarr user with this login in this company.")
    if not user.is_internal:
        return _("External users cannot use autocontact.")
    if not user.is_active:
        return _("This Dolibarr user is disabled.")
    return None


# Checked when there is no user or no hash, so that a wrong login takes as long
# as a wrong password (no way to tell which logins exist from the timing).
_DUMMY_HASH = passwords.hash_password("autocontact-timing-equaliser")


def _check_dolibarr(login, password, entity, salt):
    user = find_user(login, entity)
    if user is None or not (user.pass_crypted or user.clear_pass):
        passwords.verify_password(password, _DUMMY_HASH)
        return None
    if passwords.verify_password(password, user.pass_crypted, user.clear_pass, salt):
        return user
    return None


def authenticate(login, password, *, backends, entity, ldap_settings=None, salt="",
                 address=""):
    """Return Authenticated, or raise LoginRefused with a message for the person.

    Throttling is checked first, with the same message whether the login
    exists or not; every failure is recorded.
    """
    login = (login or "").strip()
    wait = throttle.retry_after(login, address)
    if wait:
        minutes = max(1, round(wait / 60))
        raise LoginRefused(ngettext(
            "Too many failed attempts. Try again in about %(num)s minute.",
            "Too many failed attempts. Try again in about %(num)s minutes.", minutes))
    if not login or not password or len(login) > 255 or len(password) > 1024:
        throttle.record_failure(login, address)
        raise LoginRefused(WRONG_CREDENTIALS)

    accepted, ldap_error = None, None
    for backend in backends:
        if backend == "ldap":
            try:
                identity = ldap_auth.authenticate(ldap_settings, login, password)
            except ldap_auth.LdapUnavailable as error:
                ldap_error = error
                continue
            if identity:
                accepted = Authenticated(find_user(login, entity), "ldap", tuple(identity.groups))
                break
        elif backend == "dolibarr":
            user = _check_dolibarr(login, password, entity, salt)
            if user:
                accepted = Authenticated(user, "dolibarr")
                break
    if accepted is None:
        throttle.record_failure(login, address)
        if ldap_error and backends == ["ldap"]:
            raise LoginRefused(_("The company directory (LDAP) cannot be reached. Try again later."))
        raise LoginRefused(WRONG_CREDENTIALS)
    reason = refusal_for(accepted.user)
    if reason:
        raise LoginRefused(reason)
    throttle.clear(login)
    return accepted
