"""LDAP login and group lookup, configured like Dolibarr's conf.php LDAP block.

Pure Python on ldap3 (no Flask). Every call opens its own short-lived
connections, so it is safe from any number of web worker threads.

How a login is checked (Dolibarr ``functions_ldap.php`` semantics):

1. Connect to the first reachable host of ``host`` (comma list, tried in order).
2. Bind as ``admin_login``/``admin_pass`` if set, else anonymously, and search the
   user under ``dn`` with ``(<login_attribute>=<login>)`` - or with ``filter``, whose
   ``%1%`` is replaced by the login. The login is always escaped for the filter.
3. Bind as the DN found with the typed password. Without a service account, when
   the anonymous search is refused or finds nothing, bind directly as
   ``<login_attribute>=<login>,<dn>`` (Active Directory: as the UPN / DOMAIN\\user).
4. Groups: the user's ``memberOf`` values, else a search under ``group_base``.

Errors: wrong password / unknown user -> ``None``. No reachable server ->
:class:`LdapUnavailable`. Unusable settings (or a service account the server
refuses) -> :class:`LdapConfigError`, a subclass of ``LdapUnavailable`` so a
caller that only handles ``LdapUnavailable`` still never crashes.
"""
from __future__ import annotations

import logging
import math
import os
import re
import ssl
import unicodedata
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
MAX_LOGIN_LENGTH = 256

# LDAP result codes we tell apart
_SUCCESS = 0
_SIZE_LIMIT_EXCEEDED = 4
_NO_SUCH_OBJECT = 32
_INVALID_CREDENTIALS = 49

_ATTRIBUTE_NAME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$")
_SERVER_TYPES = ("openldap", "activedirectory", "egroupware")
_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n", ""}
# ldap3 failures that mean "this server cannot be talked to" (vs. an LDAP answer)
_NETWORK_ERRORS = (
    ldap_exc.LDAPCommunicationError,  # socket open/send/receive, session terminated
    ldap_exc.LDAPStartTLSError,
    ldap_exc.LDAPResponseTimeoutError,
    ldap_exc.LDAPServerPoolExhaustedError,
    OSError,
)


class LdapError(Exception):
    """Base class of this module's errors."""


class LdapUnavailable(LdapError):
    """No LDAP server of the list could be used (message names hosts, never secrets)."""


class LdapConfigError(LdapUnavailable):
    """The LDAP settings cannot work (bad value, refused service account...)."""


@dataclass
class LdapIdentity:
    """Who logged in: the entry's DN, its login value as stored, its group DNs."""

    dn: str
    login: str
    groups: list = field(default_factory=list)  # normalize_dn()'d group DNs, sorted
    display_name: Optional[str] = None
    mail: Optional[str] = None


# --------------------------------------------------------------------------- DNs
def normalize_dn(dn: str) -> str:
    """Comparable form of a DN: lowercase, no spaces around ``=``, ``,`` and ``+``."""
    text = str(dn or "").strip()
    if not text:
        return ""
    try:
        parts = parse_dn(text, escape=False, strip=True)
    except (ldap_exc.LDAPInvalidDnError, ValueError, TypeError):
        return re.sub(r"\s*([=,+])\s*", r"\1", text).lower()
    return "".join(f"{attr.strip().lower()}={value.strip().lower()}{sep}" for attr, value, sep in parts)


def is_valid_dn(text: Any) -> bool:
    """True if ``text`` is a syntactically valid, non-empty DN (for settings forms)."""
    if not isinstance(text, str):
        return False
    if _has_control_chars(text):
        return False
    text = text.strip()
    if not text or len(text) > 2048:
        return False
    try:
        parts = parse_dn(text, escape=False, strip=True)
    except (ldap_exc.LDAPInvalidDnError, ValueError, TypeError, IndexError):
        return False
    return bool(parts) and all(attr.strip() and value.strip() for attr, value, _sep in parts)


def _has_control_chars(text: str) -> bool:
    # Cc: NUL and other controls; Cf: invisible format chars; Cs/Co/Cn: not text
    return any(unicodedata.category(ch).startswith("C") for ch in text)


# ---------------------------------------------------------------------- settings
def _to_int(value, default: int, name: str) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise LdapConfigError(f"LDAP setting {name} must be a number")
    try:
        return int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise LdapConfigError(f"LDAP setting {name} must be a number, not {value!r}") from None


def _to_float(value, default: float, name: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise LdapConfigError(f"LDAP setting {name} must be a number")
    try:
        return float(str(value).strip())
    except ValueError:
        raise LdapConfigError(f"LDAP setting {name} must be a number, not {value!r}") from None


def _to_bool(value, default: bool, name: str) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise LdapConfigError(f"LDAP setting {name} must be true or false, not {value!r}")


def _to_str(value) -> str:
    return "" if value is None else str(value).strip()


_PREFIXES = ("dolibarr_main_auth_ldap_", "autocontact_ldap_", "ldap_")
_ALIASES = {"cafile": "ca_file", "ca_cert": "ca_file", "start_tls": "starttls",
            "admin_password": "admin_pass", "groups_dn": "group_base"}


@dataclass
class LdapSettings:
    """Dolibarr's ``$dolibarr_main_auth_ldap_*`` settings, plus TLS/timeout/groups.

    ``host``: comma (or space) separated hosts or ``ldap://``/``ldaps://`` URLs,
    tried in order. A bare host uses ``port`` (LDAPS when port is 636); a URL
    without port uses 389/636.
    """

    host: str = ""
    port: int = 389
    version: int = 3
    servertype: str = "openldap"
    login_attribute: str = "uid"
    dn: str = ""
    filter: str = ""
    admin_login: str = ""
    admin_pass: str = field(default="", repr=False)
    starttls: bool = False
    ca_file: str = ""
    timeout: float = DEFAULT_TIMEOUT
    group_base: str = ""

    @classmethod
    def from_config(cls, config: Optional[Mapping[str, Any]]) -> "LdapSettings":
        """Build from a dict of strings or typed values.

        Keys are our field names; Dolibarr's ``dolibarr_main_auth_ldap_*`` and
        ``ldap_*`` spellings are accepted too, unknown keys (``debug``...) ignored.
        Raises LdapConfigError for a value of the wrong type (port "abc")."""
        names = {f.name for f in fields(cls)}
        raw: dict = {}
        for key, value in (config or {}).items():
            k = str(key).strip().lower()
            for prefix in _PREFIXES:
                if k.startswith(prefix):
                    k = k[len(prefix):]
                    break
            k = _ALIASES.get(k, k)
            if k in names:
                raw[k] = value
        servertype = _to_str(raw.get("servertype")).lower() or "openldap"
        login_attribute = _to_str(raw.get("login_attribute"))
        if not login_attribute:
            login_attribute = "sAMAccountName" if servertype == "activedirectory" else "uid"
        return cls(
            host=_to_str(raw.get("host")),
            port=_to_int(raw.get("port"), 389, "port"),
            version=_to_int(raw.get("version"), 3, "version"),
            servertype=servertype,
            login_attribute=login_attribute,
            dn=_to_str(raw.get("dn")),
            filter=_to_str(raw.get("filter")),
            admin_login=_to_str(raw.get("admin_login")),
            # a password is taken verbatim: spaces may be part of it
            admin_pass="" if raw.get("admin_pass") is None else str(raw.get("admin_pass")),
            starttls=_to_bool(raw.get("starttls"), False, "starttls"),
            ca_file=_to_str(raw.get("ca_file")),
            timeout=_to_float(raw.get("timeout"), DEFAULT_TIMEOUT, "timeout"),
            group_base=_to_str(raw.get("group_base")),
        )

    @property
    def is_active_directory(self) -> bool:
        return self.servertype.lower() == "activedirectory"

    def endpoints(self) -> list:
        """[(scheme, host, port)] in the order they are tried; raises LdapConfigError."""
        out = []
        for item in re.split(r"[,\s]+", self.host or ""):
            if not item:
                continue
            if "://" in item:
                parts = urlsplit(item)
                scheme = parts.scheme.lower()
                if scheme not in ("ldap", "ldaps"):
                    raise LdapConfigError(f"LDAP host {item!r}: only ldap:// and ldaps:// URLs are supported")
                try:
                    port = parts.port
                except ValueError:
                    raise LdapConfigError(f"LDAP host {item!r}: invalid port") from None
                if not parts.hostname:
                    raise LdapConfigError(f"LDAP host {item!r}: no host name")
                out.append((scheme, parts.hostname, port or (636 if scheme == "ldaps" else 389)))
            else:
                host, port = item, self.port
                if item.startswith("[") and "]" in item:  # [v6] or [v6]:port
                    host, _, rest = item[1:].partition("]")
                    if rest.startswith(":"):
                        port = _to_int(rest[1:], self.port, "host port")
                elif item.count(":") == 1:
                    host, _, p = item.partition(":")
                    port = _to_int(p, self.port, "host port")
                out.append(("ldaps" if port == 636 else "ldap", host, port))
        for _scheme, host, port in out:
            if not host or not 0 < port < 65536:
                raise LdapConfigError(f"LDAP host {host!r}: invalid host or port {port}")
        return out

    def problems(self) -> list:
        """Human-readable list of what is wrong with these settings (empty if usable)."""
        found = []
        try:
            if not self.endpoints():
                found.append("no LDAP host is configured")
        except LdapConfigError as exc:
            found.append(str(exc))
        if not 0 < self.port < 65536:
            found.append(f"port {self.port} is out of range")
        if self.version not in (2, 3):
            found.append("LDAP version must be 3")
        if self.servertype.lower() not in _SERVER_TYPES:
            found.append(f"unknown server type {self.servertype!r}")
        if not _ATTRIBUTE_NAME.match(self.login_attribute or ""):
            found.append(f"login attribute {self.login_attribute!r} is not an attribute name")
        if not is_valid_dn(self.dn):
            found.append("the users DN (dn) is missing or not a valid DN" if not self.dn
                         else f"users DN {self.dn!r} is not a valid DN")
        if self.filter:
            if "%1%" not in self.filter:
                found.append("the LDAP filter must contain %1% (the login)")
            elif not _filter_is_valid(_filter_for(self, "x")):
                found.append(f"the LDAP filter {self.filter!r} is not a valid filter")
        if self.admin_login and not self.admin_pass:
            # a simple bind with a name and no password is an anonymous bind
            found.append("admin_login is set but admin_pass is empty")
        if self.group_base and not is_valid_dn(self.group_base):
            found.append(f"group base {self.group_base!r} is not a valid DN")
        if self.ca_file and not os.path.isfile(self.ca_file):
            found.append(f"CA file {self.ca_file!r} does not exist")
        if not 0 < self.timeout <= 300:
            found.append("timeout must be between 0 and 300 seconds")
        return found

    def check(self) -> None:
        problems = self.problems()
        if problems:
            raise LdapConfigError("LDAP settings: " + "; ".join(problems))

    def describe_hosts(self) -> str:
        try:
            return ", ".join(f"{s}://{h}:{p}" for s, h, p in self.endpoints()) or "(none)"
        except LdapConfigError:
            return self.host


def _filter_for(settings: LdapSettings, login: str) -> str:
    """The user search filter, with ``login`` escaped (never formatted raw)."""
    value = escape_filter_chars(login)
    if settings.filter:
        text = settings.filter.replace("%1%", value)
        return text if text.startswith("(") else f"({text})"
    attribute = settings.login_attribute
    if settings.is_active_directory and attribute.lower() == "samaccountname":
        if "@" in login:
            attribute = "userPrincipalName"
        elif "\\" in login:  # DOMAIN\user
            value = escape_filter_chars(login.split("\\", 1)[1])
    return f"({attribute}={value})"


def _filter_is_valid(text: str) -> bool:
    try:
        from ldap3.operation.search import parse_filter

        parse_filter(text, None, auto_escape=False, auto_encode=False, validator=None, check_names=False)
        return True
    except Exception:
        return False


def _coerce(settings) -> LdapSettings:
    if isinstance(settings, LdapSettings):
        return settings
    if settings is None:
        raise LdapConfigError("LDAP is not configured")
    if isinstance(settings, Mapping):
        return LdapSettings.from_config(settings)
    raise TypeError("settings must be LdapSettings or a dict")


def _clean_login(login) -> Optional[str]:
    if not isinstance(login, str):
        return None
    if _has_control_chars(login):  # before stripping: "alice\r\n" is refused, not trimmed
        return None
    login = login.strip(" ")
    if not login or len(login) > MAX_LOGIN_LENGTH:
        return None
    return login


# ------------------------------------------------------------------- connections
def _servers(settings: LdapSettings) -> list:
    tls = None
    if settings.starttls or any(s == "ldaps" for s, _h, _p in settings.endpoints()):
        try:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_file or None)
        except ldap_exc.LDAPSSLConfigurationError as exc:
            raise LdapConfigError(f"LDAP TLS settings: {exc}") from None
    return [
        ldap3.Server(host, port=port, use_ssl=(scheme == "ldaps"), tls=tls,
                     get_info=ldap3.NONE, connect_timeout=settings.timeout)
        for scheme, host, port in settings.endpoints()
    ]


def _redact(text: str, *secrets: Optional[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _connection(settings: LdapSettings, server, user=None, password=None):
    return ldap3.Connection(
        server,
        user=user,
        password=password,
        authentication=ldap3.SIMPLE if user else ldap3.ANONYMOUS,
        version=settings.version,
        client_strategy=ldap3.SYNC,
        auto_bind=ldap3.AUTO_BIND_NONE,
        read_only=True,
        raise_exceptions=False,
        # whole seconds: ldap3 packs it into SO_RCVTIMEO as an integer on POSIX
        receive_timeout=max(1, math.ceil(settings.timeout)),
        auto_referrals=False,
    )


def _open_and_bind(settings: LdapSettings, server, user=None, password=None):
    """Connect (StartTLS if asked) and bind. Returns (connection, bound?).

    Network trouble raises one of _NETWORK_ERRORS; an LDAP refusal is (conn, False)."""
    conn = _connection(settings, server, user, password)
    try:
        conn.open()
        if settings.starttls and not server.ssl:
            if not conn.start_tls():
                raise ldap_exc.LDAPStartTLSError(
                    f"StartTLS refused: {conn.result.get('description') if conn.result else ''}")
        bound = conn.bind()
    except BaseException:
        _close(conn)
        raise
    return conn, bound


def _close(conn) -> None:
    try:
        conn.unbind()
    except Exception:
        pass


def _lookup_connection(settings: LdapSettings, servers: list, password: Optional[str] = None):
    """First usable server, bound as the service account (or anonymously).

    Hosts are tried in order, and a host only counts as up once it has answered
    the bind, so a host that accepts TCP but never answers is skipped after
    ``timeout``. (ldap3's ServerPool is not used on purpose: with active=True it
    retries forever when every host is down, and with active=N it sleeps
    POOLING_LOOP_TIMEOUT, 10 s, before giving up.)

    Returns (server, conn, bound). Raises LdapUnavailable if no host answers."""
    user = settings.admin_login or None
    secret = settings.admin_pass if user else None
    errors = []
    for server in servers:
        try:
            conn, bound = _open_and_bind(settings, server, user, secret)
        except _NETWORK_ERRORS as exc:
            errors.append(f"{server.host}:{server.port}: {type(exc).__name__}: {exc}")
            log.warning("LDAP server %s:%s unusable: %s", server.host, server.port, type(exc).__name__)
            continue
        if not bound and user:
            result = conn.result or {}
            _close(conn)
            raise LdapConfigError(
                f"LDAP server {server.host}:{server.port} refused the service account "
                f"{settings.admin_login!r}: {result.get('description', 'bind failed')}")
        return server, conn, bound
    raise LdapUnavailable(_redact(
        f"no LDAP server reachable ({settings.describe_hosts()}): " + "; ".join(errors),
        settings.admin_pass, password))


def _attrs_lower(entry: dict) -> dict:
    return {str(k).lower(): v for k, v in (entry.get("attributes") or {}).items()}


def _values(attrs: dict, name: str) -> list:
    value = attrs.get(name.lower())
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in value]
    return [value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)]


def _search(conn, settings, base, flt, scope, attributes, size_limit=0):
    conn.search(search_base=base, search_filter=flt, search_scope=scope, attributes=attributes,
                size_limit=size_limit, time_limit=max(1, int(settings.timeout)))
    result = conn.result or {}
    entries = [r for r in (conn.response or []) if r.get("type") == "searchResEntry"]
    return result.get("result"), result.get("description", ""), entries


def _user_attributes(settings: LdapSettings) -> list:
    return sorted({settings.login_attribute, "memberOf", "cn", "displayName", "mail"})


def _find_user(conn, settings: LdapSettings, login: str):
    """Search the login. Returns (status, entry): 'found', 'none', 'ambiguous', 'refused'."""
    code, description, entries = _search(
        conn, settings, settings.dn, _filter_for(settings, login), ldap3.SUBTREE,
        _user_attributes(settings), size_limit=2)
    if len(entries) > 1 or code == _SIZE_LIMIT_EXCEEDED:
        log.warning("LDAP login search matched more than one entry; login refused")
        return "ambiguous", None
    if code == _SUCCESS:
        return ("found", entries[0]) if entries else ("none", None)
    if code == _NO_SUCH_OBJECT and settings.admin_login:
        raise LdapConfigError(f"LDAP users DN {settings.dn!r} does not exist")
    log.info("LDAP user search refused: %s", description)
    return "refused", None


def _direct_bind_name(settings: LdapSettings, login: str) -> str:
    if settings.is_active_directory:
        if "@" in login or "\\" in login:
            return login
        domain = ".".join(value for attr, value, _ in parse_dn(settings.dn) if attr.lower() == "dc")
        return f"{login}@{domain}" if domain else login
    return f"{settings.login_attribute}={escape_rdn(login)},{settings.dn}"


def _groups(conn, settings: LdapSettings, entry: Optional[dict], dn: str, login: str) -> list:
    """memberOf of the entry if present, else a search under group_base."""
    attrs = _attrs_lower(entry or {})
    found = _values(attrs, "memberOf")
    if not found and settings.group_base:
        flt = "(|(member={dn})(uniqueMember={dn})(memberUid={uid}))".format(
            dn=escape_filter_chars(dn), uid=escape_filter_chars(login))
        code, description, entries = _search(conn, settings, settings.group_base, flt,
                                             ldap3.SUBTREE, ["cn"])
        if code not in (_SUCCESS, _SIZE_LIMIT_EXCEEDED):
            log.warning("LDAP group search under %s failed: %s", settings.group_base, description)
        found = [e["dn"] for e in entries]
    return sorted({normalize_dn(g) for g in found if g})


def _canonical_login(settings: LdapSettings, entry: Optional[dict], login: str) -> str:
    values = _values(_attrs_lower(entry or {}), settings.login_attribute)
    for value in values:
        if value.lower() == login.lower():
            return value
    return values[0] if values and not settings.filter else login


def _first(entry: Optional[dict], *names: str) -> Optional[str]:
    attrs = _attrs_lower(entry or {})
    for name in names:
        values = _values(attrs, name)
        if values:
            return values[0]
    return None


# ----------------------------------------------------------------------- public
def authenticate(settings, login, password) -> Optional[LdapIdentity]:
    """Check ``login``/``password`` against the directory.

    Returns an LdapIdentity, or None for a wrong password, an unknown or
    ambiguous login, an empty password or a login with control characters.
    Raises LdapUnavailable when no server answers, LdapConfigError (a subclass)
    when the settings cannot work."""
    settings = _coerce(settings)
    login = _clean_login(login)
    if login is None or not isinstance(password, str) or password == "":
        # an empty password makes a simple bind anonymous: it must never log in
        return None
    settings.check()
    servers = _servers(settings)

    server, conn, bound = _lookup_connection(settings, servers, password)
    try:
        status, entry = _find_user(conn, settings, login) if bound else ("refused", None)
    except _NETWORK_ERRORS as exc:
        raise _unavailable(settings, server, exc, password) from None
    finally:
        _close(conn)

    if status == "ambiguous":
        return None
    if status == "found":
        bind_name = entry["dn"]
    elif settings.admin_login or settings.filter:
        if status == "refused":
            raise LdapConfigError("the LDAP user search was refused: "
                                  + ("check admin_login's rights" if settings.admin_login
                                     else "a filter needs anonymous search or admin_login"))
        return None  # searched with full visibility: no such user
    else:
        bind_name = _direct_bind_name(settings, login)  # anonymous search refused or blind

    try:
        user_conn, ok = _open_and_bind(settings, server, bind_name, password)
    except _NETWORK_ERRORS as exc:
        raise _unavailable(settings, server, exc, password) from None
    if not ok:
        result = user_conn.result or {}
        _close(user_conn)
        if result.get("result") != _INVALID_CREDENTIALS:
            log.info("LDAP bind refused: %s", result.get("description"))
        return None
    try:
        # re-read the entry as the user: memberOf is often hidden from anonymous
        own = _read_own_entry(user_conn, settings, bind_name if status == "found" else None, login)
        entry = own or entry
        dn = entry["dn"] if entry else bind_name
        canonical = _canonical_login(settings, entry, login)
        groups = _groups(user_conn, settings, entry, dn, canonical)
    except _NETWORK_ERRORS as exc:
        raise _unavailable(settings, server, exc, password) from None
    finally:
        _close(user_conn)
    return LdapIdentity(dn=dn, login=canonical, groups=groups,
                        display_name=_first(entry, "displayName", "cn"), mail=_first(entry, "mail"))


def _read_own_entry(conn, settings: LdapSettings, dn: Optional[str], login: str) -> Optional[dict]:
    if dn is None and not settings.is_active_directory:
        dn = _direct_bind_name(settings, login)
    if dn is not None:
        code, _d, entries = _search(conn, settings, dn, "(objectClass=*)", ldap3.BASE,
                                    _user_attributes(settings))
    else:
        code, _d, entries = _search(conn, settings, settings.dn, _filter_for(settings, login),
                                    ldap3.SUBTREE, _user_attributes(settings), size_limit=2)
    return entries[0] if code == _SUCCESS and len(entries) == 1 else None


def _unavailable(settings, server, exc, password=None) -> LdapUnavailable:
    return LdapUnavailable(_redact(
        f"LDAP server {server.host}:{server.port} stopped answering: {type(exc).__name__}: {exc}",
        settings.admin_pass, password))


def user_groups(settings, login) -> Optional[list]:
    """Current group DNs (normalized, sorted) of ``login``, read with the service
    account or anonymously; None if the login is no longer in the directory.

    Meant to be called on every request so that group changes apply at once.
    Raises LdapUnavailable / LdapConfigError like authenticate()."""
    settings = _coerce(settings)
    login = _clean_login(login)
    if login is None:
        return None
    settings.check()
    server, conn, bound = _lookup_connection(settings, _servers(settings))
    try:
        if not bound:
            raise LdapConfigError("the LDAP server refuses anonymous binds: set admin_login")
        status, entry = _find_user(conn, settings, login)
        if status == "refused":
            raise LdapConfigError("the LDAP user search was refused: set admin_login "
                                  "(or allow anonymous search)")
        if status != "found":
            return None
        return _groups(conn, settings, entry, entry["dn"], _canonical_login(settings, entry, login))
    except _NETWORK_ERRORS as exc:
        raise _unavailable(settings, server, exc) from None
    finally:
        _close(conn)
