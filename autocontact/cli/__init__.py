"""Command line: ``flask --app app <group> <command>``."""
import click
from flask import current_app
from flask.cli import AppGroup

dolibarr_cli = AppGroup("dolibarr", help="Inspect the connected Dolibarr database.")


@dolibarr_cli.command("check")
def check():
    """Print what autocontact found in the database."""
    info = current_app.extensions["autocontact.schema"]
    for key, value in info.as_dict().items():
        click.echo(f"{key}: {value}")


def register(app):
    app.cli.add_command(dolibarr_cli)
