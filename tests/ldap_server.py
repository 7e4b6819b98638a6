"""A private, throw-away OpenLDAP ``slapd`` for tests.

Usage::

    from tests.ldap_server import LdapServer, slapd_missing_reason

    with LdapServer() as srv:               # or srv = LdapServer(); srv.start(); ...; srv.stop()
        srv.add_user("alice", "secret", cn="Alice", mail="alice@example.com")
        srv.add_group("devs", ["alice"])    # groupOfNames -> alice gets memberOf
        srv.url                              # ldap://127.0.0.1:<free port>  (no trailing slash: ldap3 rejects it)

The server runs the Debian ``/usr/sbin/slapd`` binary (package ``slapd``) in the
foreground (``-d 0``) from a ``slapd.conf`` written to a private temporary directory,
with the ``mdb`` backend and the ``memberof`` overlay, listening on 127.0.0.1 only.
It is killed (SIGTERM, then SIGKILL) at :meth:`LdapServer.stop`, at interpreter exit,
and - on Linux - by the kernel if the Python process that started it dies.

Directory layout::

    dc=example,dc=com                      (rootdn cn=admin,dc=example,dc=com, password admin_password)
      ou=people  uid=<uid>                 inetOrgPerson, userPassword {SSHA} (or clear)
      ou=groups  cn=<group>                groupOfNames, member = user DNs (memberOf kept by overlay)
      cn=<service account>                 simpleSecurityObject, see add_service_account()

ACLs: userPassword is usable for binds only; everything else is readable by bound
users, and by anonymous clients too unless ``LdapServer(anonymous_read=False)``.

``LdapServer(tls=True)`` additionally creates a self-signed certificate (``openssl``
CLI, CN/SAN 127.0.0.1 + localhost), listens on ``ldaps_url`` and accepts StartTLS on
``url``; the certificate to trust is ``ca_file``.
"""
from __future__ import annotations

import atexit
import base64
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterable, Optional

SLAPD_BIN = os.environ.get("SLAPD_BIN", "/usr/sbin/slapd")
SLAPD_MODULE_DIR = os.environ.get("SLAPD_MODULE_DIR", "/usr/lib/ldap")
SLAPD_SCHEMA_DIR = os.environ.get("SLAPD_SCHEMA_DIR", "/etc/ldap/schema")
_SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
_MODULES = ("back_mdb", "memberof")


def slapd_missing_reason() -> Optional[str]:
    """Why a private slapd cannot be started here, or None if it can."""
    if not os.path.isfile(SLAPD_BIN) or not os.access(SLAPD_BIN, os.X_OK):
        return f"{SLAPD_BIN} not found: install it with `apt-get install -y slapd ldap-utils`"
    for mod in _MODULES:
        if not any(
            os.path.exists(os.path.join(SLAPD_MODULE_DIR, mod + ext)) for ext in (".la", ".so")
        ):
            return f"slapd module {mod} not found in {SLAPD_MODULE_DIR}"
    for schema in _SCHEMAS:
        if not os.path.exists(os.path.join(SLAPD_SCHEMA_DIR, schema + ".schema")):
            return f"schema {schema}.schema not found in {SLAPD_SCHEMA_DIR}"
    try:
        import ldap3  # noqa: F401
    except ImportError:  # pragma: no cover
        return "python package ldap3 is not installed"
    return None


def ssha(password: str) -> str:
    """RFC 2307 ``{SSHA}`` hash as understood by slapd."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """preexec_fn: ask Linux to SIGTERM slapd when the (thread that started the) parent dies."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except Exception:
        pass


class LdapServerError(RuntimeError):
    pass


class LdapServer:
    """A private slapd on a free 127.0.0.1 port (see module docstring)."""

    base_dn = "dc=example,dc=com"
    admin_dn = "cn=admin,dc=example,dc=com"

    def __init__(
        self,
        *,
        anonymous_read: bool = True,
        tls: bool = False,
        password_scheme: str = "ssha",
        start_timeout: float = 15.0,
    ) -> None:
        if password_scheme not in ("ssha", "clear"):
            raise ValueError("password_scheme must be 'ssha' or 'clear'")
        self.anonymous_read = anonymous_read
        self.tls = tls
        self.password_scheme = password_scheme
        self.start_timeout = start_timeout
        self.admin_password = secrets.token_urlsafe(16)
        self.users_dn = "ou=people," + self.base_dn
        self.groups_dn = "ou=groups," + self.base_dn
        self.port: Optional[int] = None
        self.ldaps_port: Optional[int] = None
        self.ca_file: Optional[str] = None
        self.tmpdir: Optional[str] = None
        self.startup_seconds: Optional[float] = None
        self._proc: Optional[subprocess.Popen] = None
        self._log = None

    # ------------------------------------------------------------------ urls
    @property
    def url(self) -> str:
        self._require_started()
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        self._require_started()
        if not self.tls:
            raise LdapServerError("server was not started with tls=True")
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _require_started(self) -> None:
        if self.port is None:
            raise LdapServerError("LdapServer is not started")

    # ------------------------------------------------------------- lifecycle
    def __enter__(self) -> "LdapServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "LdapServer":
        if self.running:
            return self
        reason = slapd_missing_reason()
        if reason:
            raise LdapServerError(reason)
        t0 = time.monotonic()
        self.tmpdir = tempfile.mkdtemp(prefix="autocontact-slapd-")
        os.chmod(self.tmpdir, 0o700)
        atexit.register(self.stop)
        try:
            if self.tls:
                self._make_cert()
            last_error = None
            for _attempt in range(3):  # a free port can be stolen between probe and bind
                self.port = _free_port()
                self.ldaps_port = _free_port() if self.tls else None
                self._write_config()
                try:
                    self._spawn()
                    break
                except LdapServerError as exc:
                    last_error = exc
                    self._kill()
            else:
                raise last_error  # type: ignore[misc]
            self._populate_base()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        self._kill()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.tmpdir and os.path.isdir(self.tmpdir):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None
        self.port = None
        self.ldaps_port = None
        try:
            atexit.unregister(self.stop)
        except Exception:  # pragma: no cover
            pass

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def log_text(self) -> str:
        """slapd's stderr so far (useful in assertion messages)."""
        if not self.tmpdir:
            return ""
        try:
            with open(os.path.join(self.tmpdir, "slapd.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _make_cert(self) -> None:
        assert self.tmpdir
        if shutil.which("openssl") is None:
            raise LdapServerError("tls=True needs the openssl command line tool")
        cert = os.path.join(self.tmpdir, "cert.pem")
        key = os.path.join(self.tmpdir, "key.pem")
        cmd = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise LdapServerError("openssl failed: " + res.stderr.strip())
        self.ca_file = cert
        self._key_file = key

    def _write_config(self) -> None:
        assert self.tmpdir
        db_dir = os.path.join(self.tmpdir, "db")
        shutil.rmtree(db_dir, ignore_errors=True)
        os.makedirs(db_dir, mode=0o700)
        lines = [f"include {SLAPD_SCHEMA_DIR}/{s}.schema" for s in _SCHEMAS]
        lines += [
            f"pidfile {self.tmpdir}/slapd.pid",
            f"argsfile {self.tmpdir}/slapd.args",
            f"modulepath {SLAPD_MODULE_DIR}",
        ]
        lines += [f"moduleload {m}" for m in _MODULES]
        if self.tls:
            lines += [
                f"TLSCertificateFile {self.ca_file}",
                f"TLSCertificateKeyFile {self._key_file}",
            ]
        anon = "by anonymous read" if self.anonymous_read else "by anonymous auth"
        lines += [
            "database mdb",
            "maxsize 67108864",
            f'suffix "{self.base_dn}"',
            f'rootdn "{self.admin_dn}"',
            f"rootpw {self.admin_password}",
            f"directory {db_dir}",
            "index objectClass eq",
            "index uid,cn,member eq",
            "overlay memberof",
            "memberof-group-oc groupOfNames",
            "memberof-member-ad member",
            "memberof-memberof-ad memberOf",
            "memberof-refint TRUE",
            "access to attrs=userPassword by self write by anonymous auth by * none",
            f"access to * by users read {anon} by * none",
            "",
        ]
        with open(os.path.join(self.tmpdir, "slapd.conf"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))

    def _spawn(self) -> None:
        assert self.tmpdir
        urls = f"ldap://127.0.0.1:{self.port}/"
        if self.tls:
            urls += f" ldaps://127.0.0.1:{self.ldaps_port}/"
        if self._log is not None:
            self._log.close()
        self._log = open(os.path.join(self.tmpdir, "slapd.log"), "ab")
        cmd = [SLAPD_BIN, "-f", os.path.join(self.tmpdir, "slapd.conf"), "-h", urls, "-d", "0"]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            close_fds=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        import ldap3

        deadline = time.monotonic() + self.start_timeout
        last = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise LdapServerError(
                    f"slapd exited with code {self._proc.returncode if self._proc else '?'}:\n"
                    + self.log_text()[-3000:]
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                server = ldap3.Server("127.0.0.1", port=self.port, connect_timeout=2)
                conn = ldap3.Connection(
                    server, self.admin_dn, self.admin_password, receive_timeout=2
                )
                if conn.bind():
                    conn.unbind()
                    return
                last = conn.result
                conn.unbind()
            except OSError as exc:
                last = exc
            except ldap3.core.exceptions.LDAPException as exc:
                last = exc
            time.sleep(0.05)
        raise LdapServerError(
            f"slapd did not answer within {self.start_timeout}s ({last}):\n" + self.log_text()[-3000:]
        )

    # ------------------------------------------------------------ LDAP writes
    def admin_connection(self):
        """A bound ldap3 Connection as the rootdn (caller must unbind())."""
        import ldap3

        self._require_started()
        server = ldap3.Server("127.0.0.1", port=self.port, connect_timeout=5)
        conn = ldap3.Connection(
            server, self.admin_dn, self.admin_password, receive_timeout=10,
            raise_exceptions=True, auto_bind=ldap3.AUTO_BIND_NO_TLS,
        )
        return conn

    def _run(self, fn):
        conn = self.admin_connection()
        try:
            return fn(conn)
        finally:
            conn.unbind()

    def _populate_base(self) -> None:
        def go(c):
            c.add(self.base_dn, ["dcObject", "organization"], {"dc": "example", "o": "Example"})
            c.add(self.users_dn, ["organizationalUnit"], {"ou": "people"})
            c.add(self.groups_dn, ["organizationalUnit"], {"ou": "groups"})

        self._run(go)

    def _hash(self, password: str) -> str:
        return ssha(password) if self.password_scheme == "ssha" else password

    def user_dn(self, uid: str) -> str:
        from ldap3.utils.dn import escape_rdn

        return f"uid={escape_rdn(uid)},{self.users_dn}"

    def group_dn(self, cn: str) -> str:
        from ldap3.utils.dn import escape_rdn

        return f"cn={escape_rdn(cn)},{self.groups_dn}"

    def add_entry(self, dn: str, object_class, attributes: dict) -> str:
        """Add any entry (for tests needing other shapes)."""
        self._run(lambda c: c.add(dn, object_class, attributes))
        return dn

    def add_user(
        self,
        uid: str,
        password: Optional[str],
        cn: Optional[str] = None,
        mail: Optional[str] = None,
        sn: Optional[str] = None,
        **extra,
    ) -> str:
        """Add ``uid=<uid>,ou=people,...`` (inetOrgPerson); returns its DN."""
        attrs = {"uid": uid, "cn": cn or uid, "sn": sn or (cn or uid).split()[-1]}
        if mail:
            attrs["mail"] = mail
        if password is not None:
            attrs["userPassword"] = self._hash(password)
        attrs.update(extra)
        dn = self.user_dn(uid)
        self._run(lambda c: c.add(dn, ["inetOrgPerson"], attrs))
        return dn

    def add_service_account(self, name: str = "svc", password: Optional[str] = None):
        """Add ``cn=<name>,dc=example,dc=com`` usable as admin_login; returns (dn, password)."""
        from ldap3.utils.dn import escape_rdn

        password = password or secrets.token_urlsafe(12)
        dn = f"cn={escape_rdn(name)},{self.base_dn}"
        self._run(
            lambda c: c.add(
                dn,
                ["organizationalRole", "simpleSecurityObject"],
                {"cn": name, "userPassword": self._hash(password)},
            )
        )
        return dn, password

    def set_password(self, uid: str, password: str) -> None:
        import ldap3

        dn = self.user_dn(uid)
        self._run(lambda c: c.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, [self._hash(password)])]}))

    def add_group(self, cn: str, member_uids: Iterable[str] = ()) -> str:
        """Add ``cn=<cn>,ou=groups,...`` (groupOfNames); returns its DN.

        groupOfNames needs at least one member: an empty group holds the rootdn
        (not a real entry, ignored by the memberof overlay)."""
        members = [self.user_dn(u) for u in member_uids] or [self.admin_dn]
        dn = self.group_dn(cn)
        self._run(lambda c: c.add(dn, ["groupOfNames"], {"cn": cn, "member": members}))
        return dn

    def _members(self, conn, group_dn: str) -> list:
        conn.search(group_dn, "(objectClass=groupOfNames)", search_scope="BASE", attributes=["member"])
        if not conn.entries:
            raise LdapServerError(f"no such group: {group_dn}")
        return [str(v) for v in conn.entries[0]["member"].values]

    def add_member(self, group: str, uid: str) -> None:
        import ldap3

        gdn, udn = self.group_dn(group), self.user_dn(uid)

        def go(c):
            members = self._members(c, gdn)
            changes = [(ldap3.MODIFY_ADD, [udn])]
            if any(m.lower() == self.admin_dn for m in members):
                c.modify(gdn, {"member": [(ldap3.MODIFY_REPLACE, [udn])]})
            else:
                c.modify(gdn, {"member": changes})

        self._run(go)

    def remove_member(self, group: str, uid: str) -> None:
        self._remove_member_dn(self.group_dn(group), self.user_dn(uid))

    def _remove_member_dn(self, gdn: str, udn: str) -> None:
        import ldap3

        def go(c):
            members = self._members(c, gdn)
            rest = [m for m in members if m.lower() != udn.lower()]
            if len(rest) == len(members):
                return
            if rest:
                c.modify(gdn, {"member": [(ldap3.MODIFY_DELETE, [udn])]})
            else:  # keep groupOfNames valid
                c.modify(gdn, {"member": [(ldap3.MODIFY_REPLACE, [self.admin_dn])]})

        self._run(go)

    def delete_user(self, uid: str) -> None:
        """Remove the user from every group, then delete the entry."""
        from ldap3.utils.conv import escape_filter_chars

        udn = self.user_dn(uid)

        def groups(c):
            c.search(self.groups_dn, f"(member={escape_filter_chars(udn)})", attributes=[])
            return [e.entry_dn for e in c.entries]

        for gdn in self._run(groups):
            self._remove_member_dn(gdn, udn)
        self._run(lambda c: c.delete(udn))

    def delete_group(self, cn: str) -> None:
        self._run(lambda c: c.delete(self.group_dn(cn)))
