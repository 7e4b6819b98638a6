"""Command line: ``flask --app app <command>``, for operators and cron.

Commands take the same options as the JSON API and print the same JSON.
"""
import json
import sys
from datetime import date
from functools import wraps
from urllib.parse import parse_qsl

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..services import auth, documents, journal, permissions, salesreps, settings, undo

dolibarr_cli = AppGroup("dolibarr", help="Inspect the connected Dolibarr database.")


def with_database(command):
    """Run the command inside a connection to the app's database."""
    @wraps(command)
    def wrapped(*args, **kwargs):
        with current_app.extensions["autocontact.db"].connection_context():
            return command(*args, **kwargs)
    return wrapped


def actor_for(login):
    """The Dolibarr user a command acts as, with the roles they have now."""
    entity = current_app.config["ENTITY"]
    user = auth.find_user(login, entity)
    refusal = auth.refusal_for(user)
    if refusal:
        raise click.UsageError(f"--as {login}: {refusal}")
    return permissions.compute_roles(user, entity, settings.load(entity))


def fail(message):
    click.echo(json.dumps({"error": message}), err=True)
    sys.exit(2)


def run_and_print(payload, ids, filter_, parse, run):
    """Validate like the API, run, print the API's JSON; exit 2 with a message on bad input."""
    if ids is not None:
        payload["thirdparty_ids"] = id_list(ids)
    if filter_ is not None:
        payload["filter"] = dict(parse_qsl(filter_))
    entity = current_app.config["ENTITY"]
    try:
        outcome = run(parse(payload, entity, settings.load(entity)))
    except (salesreps.InvalidRequest, permissions.PermissionDenied) as error:
        fail(str(error))
    click.echo(json.dumps(outcome.as_dict()))


def id_list(text):
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


@dolibarr_cli.command("check")
@with_database
def check():
    """Print what autocontact found in the database."""
    info = current_app.extensions["autocontact.schema"]
    for key, value in info.as_dict().items():
        click.echo(f"{key}: {value}")


@click.command("salesreps")
@click.argument("action", type=click.Choice(salesreps.ACTIONS))
@click.option("--ids", help="Thirdparty ids, comma-separated.")
@click.option("--filter", "filter_", help="List filter as a query string, e.g. 'kind=customer&rep=7'.")
@click.option("--users", help="User ids to assign or unassign, comma-separated.")
@click.option("--replace", is_flag=True, help="Assign: replace the existing reps.")
@click.option("--from-user", type=int, help="Transfer: the rep who hands over.")
@click.option("--to-user", type=int, help="Transfer: the rep who takes over.")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--as", "login", required=True, help="Dolibarr login of the editor acting.")
@with_appcontext
@with_database
def salesreps_command(action, ids, filter_, users, replace, from_user, to_user, dry_run, login):
    """Assign, unassign, clear or transfer sales reps (same as POST /api/salesreps)."""
    entity = current_app.config["ENTITY"]
    actor = actor_for(login)
    payload = {"action": action, "replace": replace, "dry_run": dry_run,
               "user_ids": id_list(users), "from_user_id": from_user, "to_user_id": to_user}
    schema = current_app.extensions["autocontact.schema"]
    run_and_print(payload, ids, filter_, salesreps.parse_request,
                  lambda request: salesreps.run(actor, request, entity, schema, dry_run=dry_run))


documents_cli = AppGroup("documents", help="Document follow-up contacts.")


@documents_cli.command("sync")
@click.option("--ids", help="Thirdparty ids, comma-separated.")
@click.option("--filter", "filter_", help="List filter as a query string, e.g. 'rep=7'.")
@click.option("--from", "date_from", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "date_to", required=True, help="Last day, YYYY-MM-DD (inclusive).")
@click.option("--types", required=True, help="Document types (Dolibarr elements), comma-separated.")
@click.option("--mode", type=click.Choice(("sync", "replace")), default="sync", show_default=True)
@click.option("--from-user", type=int, help="Replace mode: the user to replace.")
@click.option("--to-user", type=int, help="Replace mode: the user who replaces.")
@click.option("--statuses", type=click.Choice(("all", "open")), default="all", show_default=True)
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--as", "login", required=True, help="Dolibarr login of the editor acting.")
@with_database
def documents_sync(ids, filter_, date_from, date_to, types, mode, from_user, to_user, statuses,
                   dry_run, login):
    """Make follow-up contacts match the sales reps (same as POST /api/documents/sync)."""
    entity = current_app.config["ENTITY"]
    actor = actor_for(login)
    payload = {"date_from": date_from, "date_to": date_to, "doc_types": id_list(types),
               "mode": mode, "statuses": statuses, "from_user_id": from_user,
               "to_user_id": to_user}
    run_and_print(payload, ids, filter_, documents.parse_request,
                  lambda request: documents.run(actor, request, entity, dry_run=dry_run))


journal_cli = AppGroup("journal", help="What autocontact changed, and undo.")


@journal_cli.command("list")
@click.option("--user", help="Dolibarr login of who made the changes.")
@click.option("--action", type=click.Choice(journal.ACTIONS))
@click.option("--since", help="From this day, YYYY-MM-DD.")
@click.option("--thirdparty", "thirdparty_id", type=int)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@with_database
def journal_list(user, action, since, thirdparty_id, limit):
    """Batches newest first (same as GET /api/batches), one JSON object per line."""
    try:
        since = date.fromisoformat(since) if since else None
    except ValueError:
        fail("--since must be a date written YYYY-MM-DD")
    query = journal.find_batches(current_app.config["ENTITY"], user=user, action=action,
                                 since=since, thirdparty_id=thirdparty_id)
    for batch in query.limit(limit):
        click.echo(json.dumps(journal.batch_summary(batch)))


@journal_cli.command("show")
@click.argument("batch_id", type=int)
@with_database
def journal_show(batch_id):
    """One batch with its rows (same as GET /api/batches/<id>)."""
    found = journal.find_batches(current_app.config["ENTITY"]).where(
        journal.Batch.id == batch_id).first()
    if found is None:
        fail(f"There is no batch #{batch_id} in this company.")
    click.echo(json.dumps({**journal.batch_summary(found),
                           "rows": journal.batch_rows(batch_id, limit=10_000_000)}))


@journal_cli.command("undo")
@click.argument("batch_id", type=int)
@click.option("--dry-run", is_flag=True, help="Report what would be restored and the conflicts.")
@click.option("--force", is_flag=True, help="Also undo rows changed since the batch.")
@click.option("--as", "login", required=True, help="Dolibarr login of the editor acting.")
@with_database
def journal_undo(batch_id, dry_run, force, login):
    """Undo a batch (same as POST /api/batches/<id>/undo)."""
    actor = actor_for(login)
    try:
        outcome = undo.undo(actor, batch_id, current_app.config["ENTITY"],
                            current_app.extensions["autocontact.schema"],
                            dry_run=dry_run, force=force)
    except (LookupError, undo.UndoRefused, permissions.PermissionDenied) as error:
        fail(str(error).strip("'\""))
    click.echo(json.dumps(outcome.as_dict()))


def register(app):
    app.cli.add_command(dolibarr_cli)
    app.cli.add_command(salesreps_command)
    app.cli.add_command(documents_cli)
    app.cli.add_command(journal_cli)
