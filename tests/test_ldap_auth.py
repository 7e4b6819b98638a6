"""Tests for autocontact.services.ldap_auth against a private, real OpenLDAP slapd.

Two servers are started for this module (tests/ldap_server.py, ~0.3 s each):
``directory`` lets anonymous clients search (with StartTLS/LDAPS enabled), and
``closed_directory`` refuses anonymous reads, like most company directories.
Without slapd the tests skip - except with CI=true, where they fail.
"""
import os
import socket
import time

import pytest

from autocontact.services import ldap_auth
from autocontact.services.ldap_auth import (
    LdapConfigError,
    LdapSettings,
    LdapUnavailable,
    authenticate,
    is_valid_dn,
    normalize_dn,
    user_groups,
)

try:
    from tests.ldap_server import LdapServer, LdapServerError, slapd_missing_reason
except ImportError:  # tests/ itself is on sys.path (pytest rootdir-less import)
    from ldap_server import LdapServer, LdapServerError, slapd_missing_reason

IN_CI = os.environ.get("CI", "").lower() == "true"

PASSWORDS = {
    "alice": "alice-pw",
    "bob": "bob-pw",
    "carol": "carol-pw",
    "st*r(x)": "star-pw",  # a uid that is itself full of filter metacharacters
    "back\\slash": "slash-pw",
    "frank": "frank-pw",
    "gina": "gina-pw",
}


def _start(**options):
    reason = slapd_missing_reason()
    if reason:
        message = f"a private OpenLDAP server is needed for the LDAP tests: {reason}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        return LdapServer(**options).start()
    except LdapServerError as exc:
        pytest.fail(f"could not start slapd: {exc}", pytrace=False)


def _populate(server):
    server.add_user("alice", PASSWORDS["alice"], cn="Alice Example", mail="alice@example.com")
    server.add_user("bob", PASSWORDS["bob"], cn="Bob Example", mail="bob@example.com")
    server.add_user("carol", PASSWORDS["carol"])
    server.add_user("st*r(x)", PASSWORDS["st*r(x)"])
    server.add_user("back\\slash", PASSWORDS["back\\slash"])
    server.add_user("frank", PASSWORDS["frank"], cn="gina")  # cn equals another uid
    server.add_user("gina", PASSWORDS["gina"])
    server.add_group("devs", ["alice"])
    server.add_group("Staff", ["alice", "bob"])
    return server.add_service_account("svc", "svc-secret-pw")


@pytest.fixture(scope="module")
def directory():
    server = _start(tls=True)
    server.service_dn, server.service_password = _populate(server)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def closed_directory():
    server = _start(anonymous_read=False)
    server.service_dn, server.service_password = _populate(server)
    yield server
    server.stop()


def settings_for(server, **overrides):
    values = {"host": server.url, "dn": server.users_dn, "timeout": 2}
    values.update(overrides)
    return LdapSettings.from_config(values)


def with_service_account(server, **overrides):
    values = {"admin_login": server.service_dn, "admin_pass": server.service_password}
    values.update(overrides)
    return settings_for(server, **values)


def group(server, cn):
    return normalize_dn(server.group_dn(cn))


@pytest.fixture
def dead_port():
    """A 127.0.0.1 port nobody listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def black_hole():
    """A port that accepts TCP connections but never answers (a hung server)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


# --- the test server itself --------------------------------------------------

def test_server_starts_fast_and_leaves_no_process():
    server = _start()
    pid = server._proc.pid
    tmpdir = server.tmpdir
    assert server.startup_seconds < 10
    assert server.port and server.url == f"ldap://127.0.0.1:{server.port}"
    server.stop()
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not os.path.exists(tmpdir)
    server.stop()  # idempotent


# --- passwords ---------------------------------------------------------------

def test_good_password_returns_identity(directory):
    identity = authenticate(settings_for(directory), "alice", PASSWORDS["alice"])
    assert identity is not None
    assert normalize_dn(identity.dn) == normalize_dn(directory.user_dn("alice"))
    assert identity.login == "alice"
    assert identity.mail == "alice@example.com"
    assert identity.display_name == "Alice Example"


def test_login_is_case_and_space_insensitive_and_returned_as_stored(directory):
    identity = authenticate(settings_for(directory), "  ALICE ", PASSWORDS["alice"])
    assert identity is not None and identity.login == "alice"


def test_wrong_password(directory):
    assert authenticate(settings_for(directory), "alice", "nope") is None
    assert authenticate(settings_for(directory), "alice", PASSWORDS["bob"]) is None
    assert authenticate(settings_for(directory), "alice", PASSWORDS["alice"] + " ") is None


@pytest.mark.parametrize("password", ["", None, b"alice-pw"])
def test_empty_or_non_text_password_never_authenticates(directory, password):
    assert authenticate(settings_for(directory), "alice", password) is None
    # not even with a service account or without any search
    assert authenticate(with_service_account(directory), "alice", password) is None


def test_empty_password_is_refused_before_any_network_access(dead_port):
    settings = LdapSettings.from_config({"host": f"127.0.0.1:{dead_port}", "dn": "dc=x"})
    assert authenticate(settings, "alice", "") is None


def test_unknown_user(directory, closed_directory):
    assert authenticate(settings_for(directory), "mallory", "whatever") is None
    assert authenticate(with_service_account(closed_directory), "mallory", "whatever") is None
    assert authenticate(settings_for(closed_directory), "mallory", "whatever") is None


def test_password_change_applies_at_once(directory):
    directory.add_user("henry", "old-pw")
    directory.set_password("henry", "new-pw")
    assert authenticate(settings_for(directory), "henry", "old-pw") is None
    assert authenticate(settings_for(directory), "henry", "new-pw") is not None


def test_user_without_password_cannot_log_in(directory):
    directory.add_user("nopass", None)
    assert authenticate(settings_for(directory), "nopass", "anything") is None


# --- injection ---------------------------------------------------------------

EVIL_LOGINS = [
    "*",
    "ali*",  # unescaped, would match alice only: the classic injection
    "*lice",
    "a*e",
    ")(uid=*",
    "*)(uid=*",
    "alice)(|(uid=*",
    "alice)(uid=*)(|(uid=*",
    "(uid=alice)",
    "\\",
    "alice\\",
    "\\61lice",  # \61 is 'a' in filter escaping
    "alice\x00",
    "\x00",
    "ali\x00ce",
    "ali\nce",
    "alice\r\n",
    "st*",
    "st*r(*",
    "back*",
    "uid=alice,ou=people,dc=example,dc=com",
    "alice,ou=people",
]


@pytest.mark.parametrize("login", EVIL_LOGINS)
def test_filter_metacharacters_never_authenticate(directory, closed_directory, login):
    for password in set(PASSWORDS.values()):
        for settings in (
            settings_for(directory),
            with_service_account(directory),
            settings_for(directory, filter="(&(objectClass=inetOrgPerson)(uid=%1%))"),
            settings_for(closed_directory),  # direct bind as uid=<login>,dn
            with_service_account(closed_directory),
        ):
            assert authenticate(settings, login, password) is None, (login, password)


@pytest.mark.parametrize("login", EVIL_LOGINS)
def test_filter_metacharacters_match_no_group_lookup(directory, closed_directory, login):
    assert user_groups(settings_for(directory), login) is None
    assert user_groups(with_service_account(closed_directory), login) is None


def test_login_with_nul_or_controls_is_rejected_without_server(dead_port):
    settings = LdapSettings.from_config({"host": f"127.0.0.1:{dead_port}", "dn": "dc=x"})
    for login in ("alice\x00", "a\x07", "\u200balice", ""):
        assert authenticate(settings, login, "pw") is None  # no LdapUnavailable: never connected
        assert user_groups(settings, login) is None


def test_uid_made_of_metacharacters_logs_in_as_itself(directory, closed_directory):
    for settings in (settings_for(directory), with_service_account(closed_directory),
                     settings_for(closed_directory)):
        identity = authenticate(settings, "st*r(x)", PASSWORDS["st*r(x)"])
        assert identity is not None and identity.login == "st*r(x)"
        assert normalize_dn(identity.dn) == normalize_dn(directory.user_dn("st*r(x)"))
        slash = authenticate(settings, "back\\slash", PASSWORDS["back\\slash"])
        assert slash is not None and slash.login == "back\\slash"
        # and its password opens no other account
        assert authenticate(settings, "st*r(x)", PASSWORDS["alice"]) is None
    assert user_groups(settings_for(directory), "st*r(x)") == []


def test_ambiguous_match_is_refused(directory):
    settings = settings_for(directory, filter="(|(uid=%1%)(cn=%1%))")
    # 'gina' is gina's uid and frank's cn: two entries, nobody gets in
    assert authenticate(settings, "gina", PASSWORDS["gina"]) is None
    assert authenticate(settings, "gina", PASSWORDS["frank"]) is None
    assert user_groups(settings, "gina") is None
    assert authenticate(settings, "alice", PASSWORDS["alice"]) is not None


# --- groups ------------------------------------------------------------------

def test_groups_from_member_of(directory):
    identity = authenticate(settings_for(directory), "alice", PASSWORDS["alice"])
    assert identity.groups == sorted([group(directory, "devs"), group(directory, "Staff")])
    assert all(g == g.lower() for g in identity.groups)
    assert authenticate(settings_for(directory), "carol", PASSWORDS["carol"]).groups == []


def test_group_changes_visible_without_new_login(directory):
    directory.add_user("dave", "dave-pw")
    settings = settings_for(directory)
    assert authenticate(settings, "dave", "dave-pw").groups == []
    assert user_groups(settings, "dave") == []
    directory.add_member("devs", "dave")
    assert user_groups(settings, "dave") == [group(directory, "devs")]
    directory.add_group("managers", ["dave"])
    assert user_groups(settings, "dave") == sorted([group(directory, "devs"),
                                                    group(directory, "managers")])
    directory.remove_member("devs", "dave")
    assert user_groups(settings, "dave") == [group(directory, "managers")]
    directory.delete_user("dave")
    assert user_groups(settings, "dave") is None
    assert authenticate(settings, "dave", "dave-pw") is None


def test_user_groups_with_service_account_on_closed_directory(closed_directory):
    assert user_groups(with_service_account(closed_directory), "ALICE") == sorted(
        [group(closed_directory, "devs"), group(closed_directory, "Staff")])
    assert user_groups(with_service_account(closed_directory), "mallory") is None


def test_user_groups_needs_search_rights(closed_directory):
    with pytest.raises(LdapConfigError, match="admin_login"):
        user_groups(settings_for(closed_directory), "alice")


def test_group_base_search_when_member_of_is_absent(directory):
    # posixGroup (memberUid) and groupOfUniqueNames are not maintained by memberOf
    directory.add_user("ivan", "ivan-pw")
    directory.add_entry(f"cn=ops,{directory.groups_dn}", ["posixGroup"],
                        {"cn": "ops", "gidNumber": 5000, "memberUid": ["ivan"]})
    directory.add_entry(f"cn=audit,{directory.groups_dn}", ["groupOfUniqueNames"],
                        {"cn": "audit", "uniqueMember": [directory.user_dn("ivan")]})
    expected = sorted([group(directory, "ops"), group(directory, "audit")])
    settings = settings_for(directory, group_base=directory.groups_dn)
    assert authenticate(settings, "ivan", "ivan-pw").groups == expected
    assert user_groups(settings, "ivan") == expected
    assert user_groups(settings_for(directory), "ivan") == []  # no group_base: memberOf only
    # memberOf present: it is used as is
    assert user_groups(settings, "bob") == [group(directory, "Staff")]


# --- ways to find the user ---------------------------------------------------

def test_search_then_bind_with_service_account(closed_directory):
    settings = with_service_account(closed_directory)
    identity = authenticate(settings, "alice", PASSWORDS["alice"])
    assert identity is not None
    assert identity.groups == sorted([group(closed_directory, "devs"),
                                      group(closed_directory, "Staff")])
    assert authenticate(settings, "alice", "wrong") is None


def test_refused_service_account_is_a_config_error(closed_directory):
    settings = with_service_account(closed_directory, admin_pass="not-the-password")
    with pytest.raises(LdapConfigError) as raised:
        authenticate(settings, "alice", PASSWORDS["alice"])
    assert "not-the-password" not in str(raised.value)
    assert isinstance(raised.value, LdapUnavailable)  # callers catching that are safe
    with pytest.raises(LdapConfigError):
        user_groups(settings, "alice")


def test_direct_bind_without_service_account(closed_directory):
    # anonymous search is refused here: bind as uid=<login>,<dn> directly
    settings = settings_for(closed_directory)
    identity = authenticate(settings, "Alice", PASSWORDS["alice"])
    assert identity is not None and identity.login == "alice"
    assert normalize_dn(identity.dn) == normalize_dn(closed_directory.user_dn("alice"))
    assert identity.groups == sorted([group(closed_directory, "devs"),
                                      group(closed_directory, "Staff")])
    assert authenticate(settings, "alice", "wrong") is None


def test_anonymous_search_then_bind(directory):
    settings = settings_for(directory, dn=directory.base_dn)  # search from the top
    assert authenticate(settings, "bob", PASSWORDS["bob"]).groups == [group(directory, "Staff")]


def test_filter_with_login_placeholder(directory):
    staff_only = settings_for(
        directory, filter=f"(&(objectClass=inetOrgPerson)(uid=%1%)(memberOf={directory.group_dn('devs')}))")
    assert authenticate(staff_only, "alice", PASSWORDS["alice"]) is not None
    assert authenticate(staff_only, "bob", PASSWORDS["bob"]) is None  # right password, not in devs
    assert user_groups(staff_only, "bob") is None
    by_mail = settings_for(directory, filter="mail=%1%")  # parentheses are optional
    identity = authenticate(by_mail, "bob@example.com", PASSWORDS["bob"])
    assert identity is not None
    assert normalize_dn(identity.dn) == normalize_dn(directory.user_dn("bob"))
    assert authenticate(by_mail, "*@example.com", PASSWORDS["bob"]) is None


def test_filter_needs_search_rights(closed_directory):
    settings = settings_for(closed_directory, filter="(uid=%1%)")
    with pytest.raises(LdapConfigError):
        authenticate(settings, "alice", PASSWORDS["alice"])
    assert authenticate(with_service_account(closed_directory, filter="(uid=%1%)"),
                        "alice", PASSWORDS["alice"]) is not None


# --- availability ------------------------------------------------------------

def test_unreachable_host_raises_quickly(dead_port):
    settings = LdapSettings.from_config(
        {"host": f"ldap://127.0.0.1:{dead_port}", "dn": "dc=example,dc=com",
         "admin_login": "cn=svc,dc=example,dc=com", "admin_pass": "svc-secret-pw"})
    started = time.monotonic()
    with pytest.raises(LdapUnavailable) as raised:
        authenticate(settings, "alice", "alice-secret-pw")
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert f"127.0.0.1:{dead_port}" in message
    assert "svc-secret-pw" not in message and "alice-secret-pw" not in message
    assert not isinstance(raised.value, LdapConfigError)
    with pytest.raises(LdapUnavailable):
        user_groups(settings, "alice")


def test_hung_server_times_out_with_default_timeout(black_hole):
    settings = LdapSettings.from_config({"host": f"127.0.0.1:{black_hole}", "dn": "dc=example,dc=com"})
    assert settings.timeout == ldap_auth.DEFAULT_TIMEOUT
    started = time.monotonic()
    with pytest.raises(LdapUnavailable):
        authenticate(settings, "alice", "pw")
    assert time.monotonic() - started < 10


def test_first_host_dead_second_used(directory, dead_port, black_hole):
    for dead in (f"ldap://127.0.0.1:{dead_port}", f"127.0.0.1:{black_hole}"):
        settings = settings_for(directory, host=f"{dead}, {directory.url}", timeout=1)
        started = time.monotonic()
        identity = authenticate(settings, "alice", PASSWORDS["alice"])
        assert identity is not None and identity.login == "alice"
        assert user_groups(settings, "alice") == sorted([group(directory, "devs"),
                                                         group(directory, "Staff")])
        assert time.monotonic() - started < 8
    # wrong password on the live server is still just "no"
    settings = settings_for(directory, host=f"127.0.0.1:{dead_port},{directory.url}")
    assert authenticate(settings, "alice", "wrong") is None


def test_all_hosts_dead(dead_port, black_hole):
    settings = LdapSettings.from_config(
        {"host": f"127.0.0.1:{dead_port},ldap://127.0.0.1:{black_hole}", "dn": "dc=x", "timeout": 1})
    started = time.monotonic()
    with pytest.raises(LdapUnavailable) as raised:
        authenticate(settings, "alice", "pw")
    assert time.monotonic() - started < 8
    assert str(dead_port) in str(raised.value) and str(black_hole) in str(raised.value)


# --- TLS ---------------------------------------------------------------------

def test_ldaps_with_ca_file(directory):
    settings = settings_for(directory, host=directory.ldaps_url, ca_file=directory.ca_file)
    assert authenticate(settings, "alice", PASSWORDS["alice"]) is not None


def test_starttls_with_ca_file(directory):
    settings = settings_for(directory, starttls="yes", ca_file=directory.ca_file)
    assert settings.starttls is True
    assert authenticate(settings, "alice", PASSWORDS["alice"]) is not None
    assert user_groups(settings, "bob") == [group(directory, "Staff")]


def test_untrusted_certificate_is_refused(directory):
    for settings in (settings_for(directory, host=directory.ldaps_url),
                     settings_for(directory, starttls=True)):
        with pytest.raises(LdapUnavailable):
            authenticate(settings, "alice", PASSWORDS["alice"])


def test_starttls_refused_by_server_without_tls(closed_directory):
    with pytest.raises(LdapUnavailable):
        authenticate(settings_for(closed_directory, starttls=True), "alice", PASSWORDS["alice"])


# --- settings and DNs --------------------------------------------------------

def test_settings_from_conf_php_strings():
    settings = LdapSettings.from_config({
        "dolibarr_main_auth_ldap_host": "ldap1.example.com, ldaps://ldap2.example.com",
        "dolibarr_main_auth_ldap_port": "389",
        "dolibarr_main_auth_ldap_version": "3",
        "dolibarr_main_auth_ldap_servertype": "openldap",
        "dolibarr_main_auth_ldap_login_attribute": "uid",
        "dolibarr_main_auth_ldap_dn": "ou=people,dc=example,dc=com",
        "dolibarr_main_auth_ldap_filter": "",
        "dolibarr_main_auth_ldap_admin_login": "cn=svc,dc=example,dc=com",
        "dolibarr_main_auth_ldap_admin_pass": "s3cret",
        "dolibarr_main_auth_ldap_debug": "false",
        "starttls": "0",
        "timeout": "3.5",
    })
    assert settings.port == 389 and settings.version == 3 and settings.timeout == 3.5
    assert settings.starttls is False
    assert settings.endpoints() == [("ldap", "ldap1.example.com", 389),
                                    ("ldaps", "ldap2.example.com", 636)]
    assert settings.problems() == []
    assert "s3cret" not in repr(settings)


def test_settings_defaults_and_active_directory():
    assert LdapSettings.from_config({}).login_attribute == "uid"
    ad = LdapSettings.from_config({"servertype": "ActiveDirectory", "host": "dc1",
                                   "dn": "CN=Users,DC=corp,DC=example,DC=com", "port": "636"})
    assert ad.is_active_directory and ad.login_attribute == "sAMAccountName"
    assert ad.endpoints() == [("ldaps", "dc1", 636)]
    assert ldap_auth._filter_for(ad, "bob") == "(sAMAccountName=bob)"
    assert ldap_auth._filter_for(ad, "bob@corp.example.com") == "(userPrincipalName=bob@corp.example.com)"
    assert ldap_auth._filter_for(ad, "CORP\\b*b") == "(sAMAccountName=b\\2ab)"
    assert ldap_auth._direct_bind_name(ad, "bob") == "bob@corp.example.com"


def test_settings_reject_bad_values():
    with pytest.raises(LdapConfigError):
        LdapSettings.from_config({"port": "abc"})
    with pytest.raises(LdapConfigError):
        LdapSettings.from_config({"starttls": "maybe"})
    problems = LdapSettings.from_config({
        "host": "", "dn": "not a dn", "filter": "(uid=alice)", "admin_login": "cn=svc",
        "login_attribute": "u id", "group_base": "groups"}).problems()
    text = " | ".join(problems)
    for expected in ("no LDAP host", "not a valid DN", "%1%", "admin_pass", "login attribute",
                     "group base"):
        assert expected in text
    assert LdapSettings.from_config({"host": "h", "dn": "dc=x", "filter": "(uid=%1%"}).problems()
    with pytest.raises(LdapConfigError):
        LdapSettings.from_config({"host": "http://h", "dn": "dc=x"}).endpoints()
    with pytest.raises(LdapConfigError):
        authenticate({"host": "h", "dn": "", "timeout": 1}, "alice", "pw")
    with pytest.raises(LdapConfigError):
        authenticate(None, "alice", "pw")


@pytest.mark.parametrize("text", [
    "dc=example,dc=com",
    "ou=people,dc=example,dc=com",
    " CN = Domain Users , CN=Users,DC=corp,DC=com ",
    "cn=a\\,b,dc=x",
    "cn=a+sn=b,dc=x",
    "uid=st*r(x),ou=people,dc=example,dc=com",
])
def test_valid_dns(text):
    assert is_valid_dn(text)


@pytest.mark.parametrize("text", [
    "", "   ", None, 42, "example.com", "cn=,dc=x", "=x", "cn=a,,dc=x", "cn=a,dc=x\x00",
    "cn=a,dc=x\n", "dc=example,dc=com,", "cn",
])
def test_invalid_dns(text):
    assert not is_valid_dn(text)


def test_normalize_dn():
    assert normalize_dn(" CN = Domain Users , CN=Users,DC=Corp ,DC=com") == \
        "cn=domain users,cn=users,dc=corp,dc=com"
    assert normalize_dn("cn=a\\,B,dc=X") == "cn=a\\,b,dc=x"
    assert normalize_dn("") == ""
    assert normalize_dn("not a dn , at all") == "not a dn,at all"
