"""Settings from the environment and from Dolibarr's conf.php."""
from pathlib import Path

import pytest

from autocontact import config
from autocontact.config import StartupError
from autocontact.dolibarr.conf_php import parse_conf_php

SAMPLE = Path(__file__).with_name("data") / "conf.php"


def write_conf(tmp_path, **values):
    text = SAMPLE.read_text()
    defaults = {"HOST": "db.example.com", "PORT": "3307", "NAME": "dolibarr",
                "PREFIX": "erp_", "USER": "doli", "PASS": "p@ss:w/rd"}
    for key, value in {**defaults, **values}.items():
        text = text.replace(f"__{key}__", value)
    path = tmp_path / "conf.php"
    path.write_text(text)
    return str(path)


def test_parse_reads_assignments_and_ignores_comments():
    values = parse_conf_php(SAMPLE.read_text())
    assert values["dolibarr_main_authentication"] == "ldap,dolibarr"
    assert values["dolibarr_main_db_type"] == "mysqli"
    assert values["dolibarr_main_db_name"] == "__NAME__"  # not the commented-out one
    assert values["dolibarr_main_auth_ldap_admin_pass"] == 'p"ss$word'


def test_parse_never_runs_php():
    text = "<?php\n$dolibarr_main_db_name = getenv('X') . system('rm -rf /');\n$dolibarr_main_db_port=3306;"
    assert parse_conf_php(text) == {"dolibarr_main_db_port": 3306}


def test_conf_php_gives_database_prefix_auth_and_ldap(tmp_path):
    settings = config.load({"AUTOCONTACT_DOLIBARR_CONF": write_conf(tmp_path),
                            "SECRET_KEY": "x"}, tmp_path)
    assert settings["DATABASE_URL"] == "mysql://doli:p%40ss%3Aw%2Frd@db.example.com:3307/dolibarr"
    assert settings["DB_PREFIX"] == "erp_"
    assert settings["AUTH"] == ["ldap", "dolibarr"]
    assert settings["DOLIBARR_URL"] == "https://erp.example.com"
    assert settings["LDAP"]["host"] == "127.0.0.1,ldap2.example.com"
    assert settings["LDAP"]["dn"] == "ou=people,dc=example,dc=com"
    assert settings["LDAP"]["admin_login"] == "cn=reader,dc=example,dc=com"
    assert "filter" not in settings["LDAP"]  # empty in conf.php: default applies
    assert settings["DEMO"] is False


def test_environment_wins_over_conf_php(tmp_path):
    settings = config.load({
        "AUTOCONTACT_DOLIBARR_CONF": write_conf(tmp_path),
        "AUTOCONTACT_DATABASE_URL": "mysql://other@h:3306/x",
        "AUTOCONTACT_DB_PREFIX": "zz_",
        "AUTOCONTACT_AUTH": "dolibarr",
        "AUTOCONTACT_LDAP_DN": "ou=staff,dc=example,dc=com",
        "AUTOCONTACT_ENTITY": "2",
        "SECRET_KEY": "x",
    }, tmp_path)
    assert settings["DATABASE_URL"] == "mysql://other@h:3306/x"
    assert settings["DB_PREFIX"] == "zz_"
    assert settings["AUTH"] == ["dolibarr"]
    assert settings["LDAP"]["dn"] == "ou=staff,dc=example,dc=com"
    assert settings["ENTITY"] == 2


def test_defaults_are_the_demo(tmp_path):
    settings = config.load({}, tmp_path)
    assert settings["DEMO"] is True
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'demo.sqlite'}"
    assert settings["DB_PREFIX"] == "llx_" and settings["ENTITY"] == 1
    assert settings["AUTH"] == ["dolibarr"]
    # The demo's secret key is generated once and kept.
    assert config.load({}, tmp_path)["SECRET_KEY"] == settings["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("environ, message", [
    ({"AUTOCONTACT_DATABASE_URL": "sqlite:///x.db"}, "SECRET_KEY must be set"),
    ({"AUTOCONTACT_DOLIBARR_CONF": "/nonexistent/conf.php"}, "cannot read Dolibarr conf.php"),
    ({"AUTOCONTACT_ENTITY": "one"}, "AUTOCONTACT_ENTITY must be a whole number"),
    ({"AUTOCONTACT_AUTH": "dolibarr,openid"}, "openid not supported"),
    ({"AUTOCONTACT_AUTH": "ldap"}, "no LDAP host"),
])
def test_bad_configuration_says_what_is_wrong(tmp_path, environ, message):
    with pytest.raises(StartupError, match=message):
        config.load(environ, tmp_path)


def test_conf_php_of_postgresql_is_refused_clearly(tmp_path):
    path = write_conf(tmp_path)
    Path(path).write_text(Path(path).read_text().replace("'mysqli'", "'pgsql'"))
    with pytest.raises(StartupError, match="supports MySQL/MariaDB"):
        config.load({"AUTOCONTACT_DOLIBARR_CONF": path, "SECRET_KEY": "x"}, tmp_path)


def test_bad_ldap_settings_stop_the_start_up(tmp_path):
    from autocontact import create_app
    with pytest.raises(StartupError, match="LDAP settings"):
        create_app({"TESTING": True, "ENVIRON": {
            "AUTOCONTACT_INSTANCE_PATH": str(tmp_path), "AUTOCONTACT_AUTH": "ldap",
            "AUTOCONTACT_LDAP_HOST": "ldap.example.com", "AUTOCONTACT_LDAP_VERSION": "7"}})
