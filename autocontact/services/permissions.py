"""Who may do what: viewer, editor, manager, from current Dolibarr and LDAP data.

Roles are computed on every request, so a change of group in Dolibarr or in
LDAP applies at the next request without logging out.
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from ..dolibarr.models import UserGroupMember
from .ldap_auth import normalize_dn

VIEWER, EDITOR, MANAGER = "viewer", "editor", "manager"
# The roles' names in the reader's language (the codes above are what is stored and compared).
ROLE_NAMES = {VIEWER: _l("viewer"), EDITOR: _l("editor"), MANAGER: _l("manager")}


class PermissionDenied(Exception):
    """The actor lacks the role an operation needs."""

    def __init__(self, role, reason=None):
        self.role = role
        # Lazy: the message is put in words when shown, in the reader's language.
        super().__init__(reason or _l("This needs the %(role)s role.",
                                      role=ROLE_NAMES.get(role, role)))


@dataclass
class Actor:
    """The person behind a request, with the roles that apply right now."""
    user_id: int
    login: str
    full_name: str
    is_admin: bool = False
    roles: frozenset = frozenset()
    group_ids: frozenset = frozenset()
    ldap_groups: tuple = ()
    reasons: dict = field(default_factory=dict)
    lang: str | None = None             # llx_user.lang: the user's Dolibarr language

    def can(self, role):
        return role in self.roles


def compute_roles(user, entity, settings, ldap_groups=None):
    """Return an Actor for a Dolibarr user row (one query for group membership).

    Admins are editors and managers. Otherwise a role comes from membership in
    one of the Dolibarr groups or LDAP group DNs listed for it in the settings.
    Nothing configured: only admins edit and manage.
    """
    group_ids = frozenset(
        row[0] for row in UserGroupMember.select(UserGroupMember.fk_usergroup)
        .where(UserGroupMember.fk_user == user.rowid, UserGroupMember.entity == entity)
        .tuples()
    )
    user_dns = {normalize_dn(dn) for dn in (ldap_groups or ())}
    roles, reasons = {VIEWER}, {VIEWER: "internal user"}
    if user.admin == 1:
        roles |= {EDITOR, MANAGER}
        reasons[EDITOR] = reasons[MANAGER] = "Dolibarr administrator"
    for role, allowed_groups, allowed_dns in (
        (EDITOR, settings.editor_groups, settings.editor_ldap_groups),
        (MANAGER, settings.manager_groups, settings.manager_ldap_groups),
    ):
        if role in roles:
            continue
        allowed_dns = {normalize_dn(dn) for dn in allowed_dns}
        if group_ids & set(allowed_groups):
            roles.add(role)
            reasons[role] = "member of a Dolibarr group with this role"
        elif user_dns & allowed_dns:
            roles.add(role)
            reasons[role] = "member of an LDAP group with this role"
    return Actor(
        user_id=user.rowid, login=user.login, full_name=user.full_name,
        is_admin=user.admin == 1, roles=frozenset(roles), group_ids=group_ids,
        ldap_groups=tuple(sorted(user_dns)), reasons=reasons, lang=user.lang,
    )


def require(actor, role):
    """Service-side check for writes: raise PermissionDenied unless actor has role."""
    if actor is None or not actor.can(role):
        raise PermissionDenied(role)
