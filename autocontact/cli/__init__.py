"""Command line: ``flask --app app <command>``, for operators and cron.

Commands take the same options as the JSON API and print the same JSON.
"""
import json
import sys
from functools import wraps
from urllib.parse import parse_qsl

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..services import auth, documents, permissions, salesreps, settings

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
    if ids is not None:
        payload["thirdparty_ids"] = id_list(ids)
    if filter_ is not None:
        payload["filter"] = dict(parse_qsl(filter_))
    try:
        request = salesreps.parse_request(payload, entity, settings.load(entity))
        outcome = salesreps.run(actor, request, entity,
                                current_app.extensions["autocontact.schema"], dry_run=dry_run)
    except salesreps.InvalidRequest as invalid:
        fail(str(invalid))
    except permissions.PermissionDenied as denied:
        fail(str(denied))
    click.echo(json.dumps(outcome.as_dict()))


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
    if ids is not None:
        payload["thirdparty_ids"] = id_list(ids)
    if filter_ is not None:
        payload["filter"] = dict(parse_qsl(filter_))
    try:
        request = documents.parse_request(payload, entity, settings.load(entity))
        outcome = documents.run(actor, request, entity, dry_run=dry_run)
    except salesreps.InvalidRequest as invalid:
        fail(str(invalid))
    except permissions.PermissionDenied as denied:
        fail(str(denied))
    click.echo(json.dumps(outcome.as_dict()))


def register(app):
    app.cli.add_command(dolibarr_cli)
    app.cli.add_command(salesreps_command)
    app.cli.add_command(documents_cli)
