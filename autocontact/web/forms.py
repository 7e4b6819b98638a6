"""Forms shared by several screens."""
from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """Carries only the CSRF token, for POST-only buttons."""
