"""Login throttling: after 5 failures for a login or an address within 15
minutes, further attempts are refused until the window has passed.

Failures live in the tool's own table so every uWSGI worker sees them.
"""
import unicodedata
from datetime import datetime, timedelta

from ..dolibarr.models import database
from ..dolibarr.tool_tables import LoginAttempt

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


def _now():
    return datetime.now().replace(microsecond=0)


def _key(login):
    """One key for every spelling MariaDB's collation treats as the same login
    (case and accents), so "Àdmin" cannot dodge the limit of "admin"."""
    decomposed = unicodedata.normalize("NFKD", (login or "").strip())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return plain.casefold()[:255]


def retry_after(login, address, now=None):
    """Seconds until an attempt is allowed again, or 0 when not throttled."""
    now = now or _now()
    login, address = _key(login), (address or "")[:64]
    rows = list(
        LoginAttempt.select(LoginAttempt.login, LoginAttempt.address, LoginAttempt.attempted_at)
        .where(LoginAttempt.attempted_at > now - WINDOW,
               (LoginAttempt.login == login) | (LoginAttempt.address == address))
        .order_by(LoginAttempt.attempted_at)
        .tuples()
    )
    waits = []
    for key, index in ((login, 0), (address, 1)):
        times = [row[2] for row in rows if row[index] == key]
        if len(times) >= MAX_FAILURES:
            # Allowed again once the oldest failure that still counts leaves the window.
            waits.append((times[-MAX_FAILURES] + WINDOW - now).total_seconds())
    return max(1, int(max(waits))) if waits else 0


def record_failure(login, address, now=None):
    now = now or _now()
    with database.atomic():
        LoginAttempt.delete().where(LoginAttempt.attempted_at < now - timedelta(days=1)).execute()
        LoginAttempt.insert(login=_key(login),
                            address=(address or "")[:64], attempted_at=now).execute()


def clear(login):
    LoginAttempt.delete().where(LoginAttempt.login == _key(login)).execute()
