"""``python -m stress`` (``make stress``): the long reliability and security scenarios.

Prints each scenario with its figures and exits 1 if any property failed.
Needs MariaDB (AUTOCONTACT_TEST_MYSQL_URL, default root@127.0.0.1:3306), the
mariadb client and Dolibarr's dump in ../shared, like ``make test``.
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import checks, concurrency, faults, live, restart


def _line(name, figures):
    print(f"\n== {name}")
    for key, value in figures.items():
        print(f"   {key}: {json.dumps(value, ensure_ascii=False, default=str)}")
    sys.stdout.flush()


def scenario_concurrency(workdir, clients, seconds):
    server = live.MariaDB()
    name = server.create()
    uwsgi = None
    try:
        uwsgi = live.start_uwsgi(server.url(name), workdir / "concurrency")
        connection = server.connect(name)
        figures = concurrency.run(uwsgi, connection, clients=clients, seconds=seconds)
        connection.close()
        return figures
    finally:
        if uwsgi:
            uwsgi.stop()
        server.drop(name)


def scenario_faults(workdir, kills):
    server = live.MariaDB()
    name = server.create()
    uwsgi = None
    try:
        uwsgi = live.start_uwsgi(server.url(name), workdir / "faults")
        return faults.run(uwsgi, server, name, kills=kills)
    finally:
        if uwsgi:
            uwsgi.stop()
        server.drop(name)


def scenario_restart(workdir, restarts, documents):
    """On a private MariaDB server: the shared one is never restarted."""
    reason = live.PrivateMariaDB.unavailable_reason()
    if reason:
        return {"problems": [f"a private MariaDB server is needed: {reason}"]}
    uwsgi = None
    with live.PrivateMariaDB(workdir / "mariadb") as server:   # always stopped and removed
        try:
            name = server.create()
            uwsgi = live.start_uwsgi(server.url(name), workdir / "restart",
                                     AUTOCONTACT_BACKGROUND_ROWS="1000")
            return restart.run(uwsgi, server, name, restarts=restarts, documents=documents)
        finally:
            if uwsgi:
                uwsgi.stop()


def _fuzz_app(database_url, instance):
    from autocontact import create_app
    return create_app({"TESTING": True, "ENVIRON": {
        "AUTOCONTACT_DATABASE_URL": database_url, "SECRET_KEY": "stress-secret",
        "AUTOCONTACT_INSTANCE_PATH": str(instance)}})


def _fuzz(app, clients, total, seed):
    from . import fuzz
    figures = fuzz.Figures()
    database = app.extensions["autocontact.db"]
    routes = sum(1 for rule in app.url_map.iter_rules()
                 if rule.endpoint not in fuzz.SKIPPED_ENDPOINTS
                 for _ in rule.methods - {"HEAD", "OPTIONS"})
    rounds = 0
    while figures.requests < total:
        per_route = max(2, -(-(total - figures.requests) // routes))
        fuzz.fuzz_routes(app, clients, database, per_route, seed=seed + rounds, figures=figures)
        rounds += 1
    return {"requests": figures.requests, "routes": figures.routes,
            "rejected (4xx)": figures.rejected, "accepted writes": figures.accepted,
            "checksums compared": figures.checksums_compared,
            "statuses": dict(sorted(figures.statuses.items())),
            "http_5xx": len(figures.server_errors),
            "rejected requests that changed something": len(figures.changed_by_rejected),
            "routes fuzzed with generic fields": figures.generic_routes,
            "problems": [str(e) for e in figures.server_errors + figures.changed_by_rejected]}


def scenario_fuzz_sqlite(workdir, total, seed):
    from autocontact.dolibarr import ddl, demo, models
    from autocontact.dolibarr.connection import open_database

    from . import fuzz
    path = workdir / "fuzz" / "demo.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    database = open_database(f"sqlite:///{path}")
    models.database.initialize(database)
    models.bind("llx_")
    with database.connection_context():
        ddl.create_dolibarr_tables(database)
        demo.populate(database)
    database.close()
    app = _fuzz_app(f"sqlite:///{path}", workdir / "fuzz" / "instance")
    clients = [fuzz.client_for(app, "admin", "demo"), fuzz.client_for(app, "gferrari", "demo"),
               fuzz.client_for(app, "admin", "demo", basic=True)]
    return _fuzz(app, clients, total, seed)


def scenario_fuzz_mariadb(workdir, total, seed):
    from . import fuzz
    server = live.MariaDB()
    name = server.create()
    try:
        app = _fuzz_app(server.url(name), workdir / "fuzz-mariadb")
        clients = [fuzz.client_for(app, live.ADMIN_LOGIN, live.ADMIN_PASSWORD),
                   fuzz.client_for(app, live.ADMIN_LOGIN, live.ADMIN_PASSWORD, basic=True)]
        figures = _fuzz(app, clients, total, seed)
        database = app.extensions["autocontact.db"]
        if not database.is_closed():
            database.close()
        connection = server.connect(name)
        figures["duplicates"] = checks.duplicates(connection)
        connection.close()
        return figures
    finally:
        server.drop(name)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stress", description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--restarts", type=int, default=2,
                        help="restarts of a private MariaDB during a job (SIGTERM, SIGKILL, …)")
    parser.add_argument("--restart-documents", type=int, default=100_000,
                        help="proposals whose contacts the restarted job changes")
    parser.add_argument("--fuzz", type=int, default=10_000, help="requests on SQLite")
    parser.add_argument("--fuzz-mariadb", type=int, default=1_500, help="requests on MariaDB")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=["concurrency", "faults", "restart", "fuzz",
                                           "fuzz-mariadb"],
                        action="append")
    args = parser.parse_args(argv)
    reason = live.unavailable_reason()
    if reason:
        print(f"make stress needs MariaDB, the mariadb client and uWSGI: {reason}")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="autocontact-stress-"))
    scenarios = {
        "concurrency": (f"Concurrency: {args.clients} clients for {args.seconds:g} s, uWSGI over "
                        "MariaDB, random assign/unassign/transfer/sync/undo on 10 thirdparties",
                        lambda: scenario_concurrency(workdir, args.clients, args.seconds)),
        "faults": (f"Faults: {args.kills} KILLs of the app's connection during a 20,000-contact "
                   "document sync (uWSGI over MariaDB)",
                   lambda: scenario_faults(workdir, args.kills)),
        "restart": (f"Faults: {args.restarts} restarts of a private MariaDB server during a "
                    f"background job changing {2 * args.restart_documents:,} contacts "
                    "(uWSGI over it)",
                    lambda: scenario_restart(workdir, args.restarts, args.restart_documents)),
        "fuzz": (f"Hostile input: Hypothesis on every route, SQLite demo ({args.fuzz:,}+ requests)",
                 lambda: scenario_fuzz_sqlite(workdir, args.fuzz, args.seed)),
        "fuzz-mariadb": (f"Hostile input: Hypothesis on every route, MariaDB dump "
                         f"({args.fuzz_mariadb:,}+ requests)",
                         lambda: scenario_fuzz_mariadb(workdir, args.fuzz_mariadb, args.seed)),
    }
    failed = []
    started = time.monotonic()
    try:
        for key, (title, run) in scenarios.items():
            if args.only and key not in args.only:
                continue
            began = time.monotonic()
            try:
                figures = run()
            except Exception as error:   # report and go on with the other scenarios
                figures = {"problems": [f"{error.__class__.__name__}: {error}"[:3000]]}
            figures["duration_s"] = round(time.monotonic() - began, 1)
            _line(title, figures)
            if figures.get("problems"):
                failed.append(key)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'FAILED: ' + ', '.join(failed) if failed else 'All scenarios passed'} "
          f"in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
