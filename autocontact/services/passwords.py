"""Dolibarr passwords: check a typed password the way Dolibarr does, and make hashes.

Sources, all in the Dolibarr/dolibarr repository:

* ``htdocs/core/lib/security.lib.php``: ``dol_hash()``, ``dol_verifyHash()``
  and ``dolGetLdapPasswordHash()`` (recent develop has the same
  ``dol_hash()``/``dol_verifyHash()`` in ``htdocs/core/lib/securitycore.lib.php``).
* ``htdocs/core/login/functions_dolibarr.php``:
  ``check_user_password_dolibarr()``, the login check for the 'dolibarr'
  authentication mode.
* ``htdocs/user/class/user.class.php``: ``User::setPassword()`` stores
  ``dol_hash($password)`` (type '0', "auto") in ``llx_user.pass_crypted``, and
  also stores the clear password in ``llx_user.pass`` unless the constant
  DATABASE_PWD_ENCRYPTED is set.

What Dolibarr stores in ``pass_crypted`` is decided by the constant
MAIN_SECURITY_HASH_ALGO:

* ``password_hash``: PHP ``password_hash($pw, PASSWORD_DEFAULT)``, i.e. bcrypt
  ``$2y$`` (cost 10; PHP 8.4 raised the default to 12). No salt.
* ``sha1`` / ``sha1md5``: ``sha1(SALT.pw)`` / ``sha1(md5(SALT.pw))``, hex.
* unset, or any other value: ``md5(SALT.pw)``, hex. (``sha256`` and
  ``openldap`` exist only as explicit ``$type`` values of ``dol_hash()``;
  under MAIN_SECURITY_HASH_ALGO the "auto" type falls through to md5.)

SALT is the constant MAIN_SECURITY_SALT, prepended when it is set. It is not
``$dolibarr_main_instance_unique_id``.
"""
import base64
import hashlib
import hmac
import re

import bcrypt

# PHP's default bcrypt cost (PHP_PASSWORD_BCRYPT_COST in php-src) before
# PHP 8.4, and what the Dolibarr 23.0 demo dump holds ($2y$10$...).
BCRYPT_COST = 10

# crypt_blowfish, used by PHP, reads at most 72 bytes of the password and
# ignores the rest. Python's bcrypt 5 raises instead, so we truncate first.
BCRYPT_MAX_BYTES = 72

# A complete bcrypt hash: variant, two-digit cost (04-31, PHP's range),
# 22 characters of salt and 31 of checksum.
_BCRYPT_HASH = re.compile(r"\$(2[aby])\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")

# PHP md5()/sha1()/hash() return lowercase hex, and Dolibarr compares with a
# case-sensitive ==, so uppercase hex could never match there either.
_LOWER_HEX = re.compile(r"[0-9a-f]+")


def _md5(data):
    return hashlib.md5(data).hexdigest().encode("ascii")


def _sha1(data):
    return hashlib.sha1(data).hexdigest().encode("ascii")


def _sha1md5(data):
    # PHP sha1(md5($chain)): sha1 of the 32-character hex string, not of the digest bytes.
    return _sha1(_md5(data))


def _sha256(data):
    return hashlib.sha256(data).hexdigest().encode("ascii")


# dol_hash() $type names for the hex formats, salted the same way.
_HEX_HASHES = {"md5": _md5, "sha1": _sha1, "sha1md5": _sha1md5, "sha256": _sha256}

# Which hex formats a stored hash of a given length may be. Dolibarr itself
# (dol_verifyHash, MAIN_SECURITY_HASH_ALGO=password_hash) reads 32 chars as
# md5 and 40 chars as sha1md5 only; sha1 is what MAIN_SECURITY_HASH_ALGO=sha1
# stored. We cannot know which setting wrote an old hash, so 40 chars tries both.
_HEX_FORMATS_BY_LENGTH = {32: ("md5",), 40: ("sha1md5", "sha1"), 64: ("sha256",)}

# dol_hash() also accepts its types as digits.
_ALGO_ALIASES = {
    "1": "sha1",
    "2": "sha1md5",
    "3": "md5",
    "4": "openldap",
    "5": "sha256",
    "6": "password_hash",
}


def _utf8(value):
    """The UTF-8 bytes of a str (what PHP sees from a UTF-8 form), else None."""
    if not isinstance(value, str):
        return None
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return None


def _php_truthy(value):
    """PHP truthiness of a string or NULL column: '', '0' and NULL are false."""
    return value is not None and value not in ("", "0")


def _bcrypt_matches(typed, stored):
    """PHP password_verify() for the bcrypt hashes PHP's password_hash() makes.

    Other crypt formats that password_verify() would also take (argon2, $1$,
    $5$, $6$, crypt_blowfish's buggy $2x$) are refused: PASSWORD_DEFAULT has
    always been bcrypt $2y$, so Dolibarr never stored them.
    """
    if not _BCRYPT_HASH.fullmatch(stored):
        return False
    if b"\0" in typed:
        # PHP's crypt stops at the NUL byte; dol_hash() refuses to hash such a
        # string, so no Dolibarr hash can be meant for it. Refuse (and Python's
        # bcrypt would not take it).
        return False
    if stored.startswith("$2y$"):
        # $2y$ (PHP) and $2b$ (OpenBSD) are the same algorithm; Python's bcrypt
        # names it $2b$.
        stored = "$2b$" + stored[4:]
    try:
        return bcrypt.checkpw(typed[:BCRYPT_MAX_BYTES], stored.encode("ascii"))
    except ValueError:
        return False


def _hex_matches(typed, stored, salt):
    """dol_verifyHash() for the hex formats, with MAIN_SECURITY_SALT prepended.

    Dolibarr compares with PHP's loose ``==``, which treats two "0e<digits>"
    strings as equal numbers ("magic hashes"); we compare exactly, in constant
    time, on purpose.
    """
    formats = _HEX_FORMATS_BY_LENGTH.get(len(stored), ())
    if not formats or not _LOWER_HEX.fullmatch(stored):
        return False
    expected = stored.encode("ascii")
    salted = salt + typed
    matched = False
    for name in formats:
        # No short-circuit: every candidate is computed and compared.
        matched |= hmac.compare_digest(_HEX_HASHES[name](salted), expected)
    return matched


def _clear_matches(password, typed, pass_crypted, clear_pass):
    """The clear ``llx_user.pass`` fallback of check_user_password_dolibarr().

    Dolibarr: ``if ((!$passcrypted || $passtyped) && ($passclear && ($passtyped
    == $passclear)))``, tried after the hash check fails. Present in every
    copy of functions_dolibarr.php read, from the md5-only era (where the
    ``$passclear &&`` guard was still missing) to the current file, so as
    far as seen every Dolibarr version accepts it (exact release numbers
    were not checked). User::setPassword() fills ``pass`` when
    DATABASE_PWD_ENCRYPTED is not set. The PHP loose ``==`` (e.g. "1e3" ==
    "1000") is not reproduced: we compare exactly.
    """
    if not _php_truthy(clear_pass):
        return False
    if _php_truthy(pass_crypted) and not _php_truthy(password):
        return False
    clear = _utf8(clear_pass)
    if clear is None:
        return False
    return hmac.compare_digest(typed, clear)


def verify_password(password, pass_crypted, clear_pass=None, salt=""):
    """True when Dolibarr would let ``password`` in for this llx_user row.

    ``pass_crypted`` may be any format Dolibarr has stored:

    * bcrypt ``$2y$`` from PHP password_hash() (also ``$2a$``/``$2b$``);
      no salt. Like PHP, only the first 72 bytes of the password count.
    * 32 hex: ``md5(salt+password)``.
    * 40 hex: ``sha1(md5(salt+password))`` or ``sha1(salt+password)``.
    * 64 hex: ``sha256(salt+password)``. Dolibarr can make it
      (``dol_hash($pw, 'sha256')``) but its login never accepts it;
      accepted here as a harmless extension.

    ``salt`` is MAIN_SECURITY_SALT ("" when unset). As in Dolibarr, when it
    is set only salted hex hashes match.

    The OpenLDAP format (``{MD5}base64``, dolGetLdapPasswordHash()) is not
    accepted: dol_verifyHash() never checks it, so Dolibarr's login refuses it.

    When the hash does not match, a non-empty clear ``pass`` column
    (``clear_pass``) equal to the password is accepted, as every version of
    check_user_password_dolibarr() does.

    Never raises: None, non-strings, an empty password, malformed hashes and
    unencodable text all give False. Every non-bcrypt comparison uses
    hmac.compare_digest.
    """
    typed = _utf8(password)
    if not typed:
        return False
    if salt is None:
        salt = ""
    salt_bytes = _utf8(salt)
    if salt_bytes is None:
        return False
    if isinstance(pass_crypted, str) and pass_crypted:
        # dol_verifyHash(): a leading '$' means password_hash, else by length.
        if pass_crypted.startswith("$"):
            if _bcrypt_matches(typed, pass_crypted):
                return True
        elif _hex_matches(typed, pass_crypted, salt_bytes):
            return True
    stored = pass_crypted if isinstance(pass_crypted, str) else None
    return _clear_matches(password, typed, stored, clear_pass)


def hash_password(password, algo="password_hash", salt=""):
    """The hash ``dol_hash($password, $algo)`` returns, with MAIN_SECURITY_SALT = ``salt``.

    ``algo`` is a dol_hash() type: 'password_hash', 'sha1', 'sha1md5', 'md5',
    'sha256', 'openldap', or its digit ('1'..'6').

    * 'password_hash': bcrypt labelled ``$2y$`` with cost 10, like PHP's
      password_hash(); ``salt`` is ignored (Dolibarr adds none). Passwords
      longer than 72 bytes are truncated, as PHP does; a NUL byte raises
      ValueError (dol_hash() returns an error text instead of a hash).
    * 'sha1', 'sha1md5', 'md5', 'sha256': lowercase hex of ``salt+password``.
    * 'openldap': dolGetLdapPasswordHash() with its default type 'md5':
      ``'{MD5}' + base64(md5 digest)``, never salted. (Very old copies
      produced a lowercase ``{md5}`` prefix.)

    This is what dol_hash() gives for an explicit type. For the user
    password itself Dolibarr calls dol_hash() in "auto" mode, which only
    honours MAIN_SECURITY_HASH_ALGO = password_hash, sha1 or sha1md5 and
    otherwise stores md5.

    Raises TypeError for a non-str password or salt, ValueError for an
    unknown algo.
    """
    if not isinstance(password, str) or not isinstance(salt, str):
        raise TypeError("password and salt must be str")
    name = _ALGO_ALIASES.get(algo, algo)
    data = password.encode("utf-8")
    if name == "password_hash":
        if b"\0" in data:
            raise ValueError("password contains a NUL byte; Dolibarr cannot hash it")
        hashed = bcrypt.hashpw(data[:BCRYPT_MAX_BYTES], bcrypt.gensalt(rounds=BCRYPT_COST))
        # Same algorithm as PHP's $2y$; relabel so the hash reads as PHP's would.
        return "$2y$" + hashed.decode("ascii")[4:]
    if name == "openldap":
        return "{MD5}" + base64.b64encode(hashlib.md5(data).digest()).decode("ascii")
    if name in _HEX_HASHES:
        return _HEX_HASHES[name](salt.encode("utf-8") + data).decode("ascii")
    raise ValueError(f"unknown Dolibarr hash algorithm: {algo!r}")
