"""The tool's own tables, named prefix + ``autocontact_`` beside Dolibarr's.

They are the only tables autocontact ever creates, on demand at start-up.
"""
from peewee import AutoField, CharField, DateTimeField

from .models import DolibarrModel


class LoginAttempt(DolibarrModel):
    """Failed logins, shared by every uWSGI worker, for throttling."""
    id = AutoField()
    login = CharField(max_length=255, index=True)
    address = CharField(max_length=64, index=True)
    attempted_at = DateTimeField(index=True)

    class Meta:
        dolibarr_table = "autocontact_login_attempt"


TOOL_MODELS = (LoginAttempt,)
