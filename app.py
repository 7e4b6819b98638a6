"""Entry point for ``flask --app app`` and uWSGI (``module = app:app``)."""
import sys

from autocontact import StartupError, create_app

try:
    app = create_app()
except StartupError as error:
    sys.exit(f"autocontact cannot start: {error}")
