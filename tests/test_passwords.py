"""Tests for autocontact.services.passwords (Dolibarr password hashes).

Expected values are computed here the way PHP computes them (md5()/sha1()/
hash() give lowercase hex of the raw bytes, the salt is prepended), or are
hashes produced by PHP itself.
"""
import base64
import hashlib

import pytest

from autocontact.services import passwords
from autocontact.services.passwords import hash_password, verify_password

# llx_user row rowid 12, login 'admin', of the Dolibarr 23.0.0 demo dump
# (dev/initdemo/mysqldump_dolibarr_23.0.0.sql, copied as
# /work/shared/dolibarr/dolibarr-23.0.0-subset.sql). Made by PHP
# password_hash(); the password is 'admin' (dev/initdemo/README.md says
# admin/admin or admin/adminadmin; 'admin' is the one that verifies).
DEMO_ADMIN_HASH = "$2y$10$MiDs0GVn0ksYbOHw8XgAf.oEihYvLI0ZYd0PSVq7/6ret6gifWSh6"

# PHP's own vectors. Dolibarr's test/phpunit/SecurityTest.php has no hash
# vectors (it only logs in admin/admin against its test database), so these
# come from PHP: php-src ext/standard/tests/password/password_verify.phpt
# (the $2a$ one) and the php.net password_hash() example (cost 7, salt
# "usesomesillystringforsalt"), which prints the $2y$ one.
PHP_PASSWORD = "rasmuslerdorf"
PHP_2A_HASH = "$2a$07$usesomesillystringfore2uDLvp1Ii2e./U9C8sBjqp8I90dH6hi"
PHP_2Y_HASH = "$2y$07$usesomesillystringfore2uDLvp1Ii2e./U9C8sBjqp8I90dH6hi"


def php_md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def php_sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def php_sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


# --- known vectors ---------------------------------------------------------


def test_demo_dump_admin_hash():
    assert verify_password("admin", DEMO_ADMIN_HASH)
    assert not verify_password("adminadmin", DEMO_ADMIN_HASH)
    assert not verify_password("Admin", DEMO_ADMIN_HASH)
    assert not verify_password("admin ", DEMO_ADMIN_HASH)


def test_php_bcrypt_vectors():
    assert verify_password(PHP_PASSWORD, PHP_2Y_HASH)
    assert verify_password(PHP_PASSWORD, PHP_2A_HASH)
    # The same hash relabelled $2b$ (OpenBSD name of the same algorithm).
    assert verify_password(PHP_PASSWORD, "$2b$" + PHP_2Y_HASH[4:])
    # password_verify.phpt: a shorter password and a salt-only string fail.
    assert not verify_password("rasmusler", PHP_2A_HASH)
    assert not verify_password("foo", "$2a$07$usesomesillystringforsalt$")


def test_well_known_hex_vectors_of_admin():
    assert verify_password("admin", "21232f297a57a5a743894a0e4a801fc3")  # md5
    assert verify_password("admin", "d033e22ae348aeb5660fc2140aec35850c4da997")  # sha1
    assert verify_password(
        "admin", "8c6976e5b5410415bde908bd4dee15dfb167a9c873fc4bb8a81f6f2ab448a918"
    )  # sha256


# --- hashes computed as PHP would ------------------------------------------


@pytest.mark.parametrize("salt", ["", "s3cr3t-Salt"])
def test_php_style_hex_hashes_verify(salt):
    password = "Tr0ub4dor&3"
    stored = {
        "md5": php_md5(salt + password),
        "sha1": php_sha1(salt + password),
        # PHP sha1(md5($chain)) hashes the hex string returned by md5().
        "sha1md5": php_sha1(php_md5(salt + password)),
        "sha256": php_sha256(salt + password),
    }
    for name, value in stored.items():
        assert verify_password(password, value, salt=salt), name
        assert not verify_password(password + "x", value, salt=salt), name


def test_salt_is_prepended_not_appended():
    stored = php_md5("pepper" + "secret")
    assert verify_password("secret", stored, salt="pepper")
    assert not verify_password("secret", php_md5("secret" + "pepper"), salt="pepper")


def test_with_salt_set_unsalted_hashes_no_longer_match():
    # Dolibarr prepends MAIN_SECURITY_SALT whenever it is set.
    assert verify_password("secret", php_md5("secret"))
    assert not verify_password("secret", php_md5("secret"), salt="pepper")
    assert not verify_password("secret", php_md5("pepper" + "secret"))


def test_bcrypt_ignores_salt():
    assert verify_password("admin", DEMO_ADMIN_HASH, salt="pepper")


def test_non_ascii_passwords_are_utf8():
    password = "pässwörd-日本"
    assert verify_password(password, php_md5(password))
    assert verify_password(password, php_sha1(php_md5("sel" + password)), salt="sel")
    assert verify_password(password, hash_password(password))
    assert not verify_password("passwort-日本", hash_password(password))


# --- hash_password ---------------------------------------------------------


@pytest.mark.parametrize("algo", ["password_hash", "md5", "sha1", "sha1md5", "sha256"])
@pytest.mark.parametrize("salt", ["", "pepper"])
def test_round_trip(algo, salt):
    stored = hash_password("correct horse", algo, salt)
    assert verify_password("correct horse", stored, salt=salt)
    assert not verify_password("correct horsf", stored, salt=salt)


def test_hash_password_matches_php():
    assert hash_password("pw", "md5") == php_md5("pw")
    assert hash_password("pw", "md5", "salt") == php_md5("saltpw")
    assert hash_password("pw", "sha1", "salt") == php_sha1("saltpw")
    assert hash_password("pw", "sha1md5", "salt") == php_sha1(php_md5("saltpw"))
    assert hash_password("pw", "sha256", "salt") == php_sha256("saltpw")


def test_hash_password_digit_aliases():
    assert hash_password("pw", "1") == hash_password("pw", "sha1")
    assert hash_password("pw", "2") == hash_password("pw", "sha1md5")
    assert hash_password("pw", "3") == hash_password("pw", "md5")
    assert hash_password("pw", "4") == hash_password("pw", "openldap")
    assert hash_password("pw", "5") == hash_password("pw", "sha256")
    assert hash_password("pw", "6").startswith("$2y$10$")


def test_password_hash_looks_like_php():
    stored = hash_password("admin")
    assert stored.startswith("$2y$10$")
    assert len(stored) == 60
    assert stored != hash_password("admin")  # random salt each time
    # No MAIN_SECURITY_SALT for password_hash: the salt argument changes nothing.
    assert verify_password("admin", hash_password("admin", "password_hash", "pepper"))


def test_openldap_format_is_made_but_not_accepted_at_login():
    expected = "{MD5}" + base64.b64encode(hashlib.md5(b"secret").digest()).decode()
    assert hash_password("secret", "openldap") == expected
    assert hash_password("secret", "openldap", "pepper") == expected  # never salted
    # dol_verifyHash() never checks this format, so Dolibarr refuses it.
    assert not verify_password("secret", expected)


def test_hash_password_rejects_bad_input():
    with pytest.raises(ValueError):
        hash_password("pw", "argon2")
    with pytest.raises(ValueError):
        hash_password("a\0b")
    with pytest.raises(TypeError):
        hash_password(None)


# --- bcrypt's 72-byte limit ------------------------------------------------


def test_long_passwords_behave_like_php():
    long_password = "a" * 100
    stored = hash_password(long_password)
    assert verify_password(long_password, stored)
    # PHP's bcrypt reads 72 bytes only, so Dolibarr accepts this too.
    assert verify_password("a" * 72 + "different tail", stored)
    assert not verify_password("a" * 71, stored)
    # The limit is in bytes, even inside a UTF-8 character: byte 72 is the
    # first byte of the 36th "é" (c3 a9), which "è" (c3 a8) shares.
    multibyte = "a" + "é" * 40
    stored = hash_password(multibyte)
    assert verify_password(multibyte, stored)
    assert verify_password("a" + "é" * 35 + "è", stored)
    assert not verify_password("a" + "é" * 34 + "è", stored)


def test_long_passwords_never_raise():
    assert not verify_password("x" * 5000, DEMO_ADMIN_HASH)
    assert not verify_password("x" * 5000, php_md5("y"))


# --- clear `pass` column ---------------------------------------------------


def test_clear_pass_column():
    assert verify_password("secret", None, "secret")
    assert verify_password("secret", "", "secret")
    # Dolibarr tries the clear column even when a (different) hash is stored.
    assert verify_password("secret", DEMO_ADMIN_HASH, "secret")
    assert verify_password("admin", DEMO_ADMIN_HASH, "something else")
    assert not verify_password("secret", None, "Secret")
    assert not verify_password("secret", None, None)
    assert not verify_password("", None, "")
    assert verify_password("mötley", None, "mötley")


def test_clear_pass_follows_php_truthiness():
    # PHP: "0" is false, so a clear pass "0" never matches ...
    assert not verify_password("0", None, "0")
    # ... and a typed "0" may use the clear column only when no hash is stored.
    assert not verify_password("0", php_md5("other"), "0")


def test_php_loose_comparison_is_not_reproduced():
    # PHP "1e3" == "1000" is true (numeric strings); we compare exactly.
    assert not verify_password("1e3", None, "1000")
    # Magic hashes: md5("240610708") and md5("QNKCDZO") both read as 0e<digits>,
    # which PHP's == treats as the number 0.
    assert php_md5("240610708") == "0e462097431906509019562988736854"
    assert php_md5("QNKCDZO") == "0e830400451993494058024219903391"
    assert verify_password("240610708", php_md5("240610708"))
    assert not verify_password("QNKCDZO", php_md5("240610708"))


# --- garbage never matches, never raises -----------------------------------

GARBAGE_HASHES = [
    None,
    "",
    "admin",
    "$",
    "$2y$",
    "$2y$10$short",
    DEMO_ADMIN_HASH[:-1],
    DEMO_ADMIN_HASH + "x",
    "$2y$99$" + DEMO_ADMIN_HASH[7:],
    "$2x$10$" + DEMO_ADMIN_HASH[7:],
    "$2y$10$" + "!" * 53,
    "$argon2id$v=19$m=65536,t=4,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
    "21232F297A57A5A743894A0E4A801FC3",  # md5("admin") in uppercase
    "21232f297a57a5a743894a0e4a801fcz",
    "21232f297a57a5a743894a0e4a801fc3 ",
    "0" * 33,
    "{MD5}ISMvKXpXpadDiUoOSoAfww==",
    "dolcrypt:AES-256-CTR:abc:def",
    "\u00e9" * 32,
    "\ud800" * 40,
    12345,
    b"21232f297a57a5a743894a0e4a801fc3",
    ["admin"],
]


@pytest.mark.parametrize("stored", GARBAGE_HASHES)
def test_garbage_hashes_never_match(stored):
    assert verify_password("admin", stored) is False
    assert verify_password("admin", stored, salt="pepper") is False


@pytest.mark.parametrize(
    "password",
    [None, "", 0, 12345, b"admin", ["admin"], "\ud800", "adm\0in", "admin\0", "\0"],
)
def test_garbage_passwords_never_match(password):
    assert verify_password(password, DEMO_ADMIN_HASH) is False
    assert verify_password(password, php_md5("admin")) is False
    assert verify_password(password, None, "admin") is False


def test_empty_password_never_matches_even_its_own_hash():
    assert not verify_password("", php_md5(""))
    assert not verify_password("", hash_password(""))
    assert not verify_password("", None, "")


@pytest.mark.parametrize("salt", [None, 42, b"pepper", "\ud800"])
def test_odd_salts_never_raise(salt):
    result = verify_password("admin", php_md5("admin"), salt=salt)
    assert result is (salt is None)  # None is read as "no salt"


def test_garbage_clear_pass_never_raises():
    for clear in (12345, b"admin", "\ud800", ["admin"]):
        assert verify_password("admin", None, clear) is False


# --- constant-time comparisons ---------------------------------------------


def test_hex_and_clear_comparisons_use_compare_digest(monkeypatch):
    # Checked by code review too; this makes sure the paths really call it.
    calls = []
    real = passwords.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", spy)
    assert verify_password("admin", php_md5("admin"))
    assert len(calls) == 1
    assert verify_password("admin", php_sha1("admin"))
    assert len(calls) == 3  # sha1md5 and sha1 both compared, no short-circuit
    assert verify_password("admin", None, "admin")
    assert len(calls) == 4
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in calls)
