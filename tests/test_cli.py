"""The command line gives the API's results, for cron and scripts."""
import json

from autocontact.cli import salesreps_command

from test_salesreps import reps


def run(app, *args):
    return app.test_cli_runner().invoke(salesreps_command, list(args), catch_exceptions=False)


def test_salesreps_assign_prints_the_api_result(app, db, people):
    boss = people.user("cli.boss", admin=1)
    rep = people.user("cli.rep")
    ids = [row[0] for row in db.execute_sql(
        "SELECT rowid FROM llx_societe WHERE entity = 1 ORDER BY rowid LIMIT 3")]
    dry = run(app, "assign", "--ids", ",".join(map(str, ids)), "--users", str(rep),
              "--as", "cli.boss", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["batch_id"] is None
    assert all(rep not in reps(db, tid) for tid in ids)
    result = run(app, "assign", "--ids", ",".join(map(str, ids)), "--users", str(rep),
                 "--as", "cli.boss")
    body = json.loads(result.output)
    assert set(body) >= {"batch_id", "thirdparties", "links_added", "links_removed"}
    assert body["links_added"] == 3 and body["batch_id"]
    assert all(rep in reps(db, tid) for tid in ids)
    assert boss


def test_salesreps_transfer_by_filter(app, db, people):
    people.user("cli.boss", admin=1)
    old, new = people.user("cli.old"), people.user("cli.new")
    first = db.execute_sql("SELECT MIN(rowid) FROM llx_societe WHERE entity = 1").fetchone()[0]
    db.execute_sql(f"INSERT INTO llx_societe_commerciaux (fk_soc, fk_user) VALUES ({first}, {old})")
    result = run(app, "transfer", "--filter", f"rep={old}", "--from-user", str(old),
                 "--to-user", str(new), "--as", "cli.boss")
    assert json.loads(result.output)["links_added"] == 1
    assert reps(db, first).count(new) == 1 and old not in reps(db, first)


def test_salesreps_refuses_bad_input_and_non_editors(app, db, people):
    people.user("cli.viewer")
    people.user("cli.boss", admin=1)
    bad = run(app, "assign", "--ids", "99999999", "--users", "1", "--as", "cli.boss")
    assert bad.exit_code == 2 and "does not exist" in bad.output
    first = db.execute_sql("SELECT MIN(rowid) FROM llx_societe WHERE entity = 1").fetchone()[0]
    rep = people.user("cli.rep")
    denied = run(app, "assign", "--ids", str(first), "--users", str(rep), "--as", "cli.viewer")
    assert denied.exit_code == 2 and "editor role" in denied.output
    unknown = run(app, "clear", "--ids", "1", "--as", "nobody-at-all")
    assert unknown.exit_code == 2 and "no Dolibarr user" in unknown.output


def test_documents_sync_from_the_command_line(app, db, people, scenario):
    from autocontact.cli import documents_sync

    from test_documents import followers
    people.user("cli.boss", admin=1)
    args = ["--ids", str(scenario["tid"]), "--from", "2025-01-01", "--to", "2025-12-31",
            "--types", "propal,commande,facture", "--statuses", "open", "--as", "cli.boss"]
    runner = app.test_cli_runner()
    dry = runner.invoke(documents_sync, args + ["--dry-run"], catch_exceptions=False)
    assert json.loads(dry.output)["documents_changed"] == 3
    assert followers(db, "propal", scenario["docs"][("propal", "in")]) == [scenario["a"]]
    result = json.loads(runner.invoke(documents_sync, args, catch_exceptions=False).output)
    assert set(result) >= {"batch_id", "documents_examined", "documents_changed",
                           "contacts_added", "contacts_removed", "per_type"}
    assert followers(db, "propal", scenario["docs"][("propal", "in")]) == [scenario["b"]]
    bad = runner.invoke(documents_sync, ["--ids", "1", "--from", "2025-02-30", "--to", "2025-03-01",
                                         "--types", "propal", "--as", "cli.boss"])
    assert bad.exit_code == 2 and "not a real date" in bad.output
