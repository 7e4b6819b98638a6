"""Long operations in the background, with progress any uWSGI worker can read.

The operation runs exactly as in the foreground (one transaction), in a thread of
the worker that accepted it; closing the browser does not stop it. The job's final
state is written in that same transaction: a job is "done" exactly when its changes
are committed, and a job marked failed can no longer commit them.

While it runs, a writer thread reports its phase and a heartbeat outside the
operation's transaction, where every worker can read them:

- MariaDB: on the job's row, through a connection of its own;
- SQLite: the operation holds the database's only writer lock until it commits, so
  nothing can be written there meanwhile; progress goes to a small side database
  beside it (``<name>.jobs.sqlite``) that every worker of the machine reads.

A worker killed in the middle (SIGKILL, out of memory, a reload that ran out of
patience) takes its transaction with it: the database rolls it back. Its job would
say "running" forever, so readers check: a job whose owner process is gone (same
host) or whose heartbeat is older than ``STALE_AFTER_SECONDS`` is marked failed.
"""
import json
import logging
import os
import socket
import threading
from datetime import datetime, timedelta
from pathlib import Path

from flask_babel import force_locale, get_locale
from peewee import PeeweeException, SqliteDatabase

from ..dolibarr import connection, models
from ..dolibarr.tool_tables import Job

HEARTBEAT_SECONDS = 5
STALE_AFTER_SECONDS = 60
HOST = socket.gethostname()
# Stored in English, shown in the reader's language (autocontact.i18n.LABELS).
INTERRUPTED = ("The operation was interrupted (its worker or the database stopped); nothing "
               "was changed — you can run it again.")
FAILED = "The operation failed and nothing was changed."
SIDE_TABLE = "job_progress"

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """The job was marked failed while it ran: its transaction must not commit."""


def _now():
    return datetime.now().replace(microsecond=0)


def create(actor, entity, kind, label, total):
    """A job row, owned by this process (the one that will run it)."""
    now = _now()
    return Job.insert(entity=entity, user_id=actor.user_id, kind=kind, label=label,
                      state="running", phase="Starting", total=total, done=0,
                      created_at=now, updated_at=now, owner_host=HOST[:255],
                      owner_pid=os.getpid()).execute()


def side_path(database):
    """SQLite: the progress file beside the database file. None on other databases.

    Beside the database rather than in the instance folder: job ids belong to one
    database, and SQLite needs that folder writable anyway (WAL files).
    """
    if not isinstance(database, SqliteDatabase) or database.database in ("", ":memory:"):
        return None
    path = Path(database.database)
    return path.with_name(f"{path.stem}.jobs.sqlite")


class ProgressWriter:
    """Reports a job's phase, and a heartbeat, outside the operation's transaction.

    The operation calls it between statements and never waits for a write: a
    thread of its own writes the latest phase at once, and again every
    HEARTBEAT_SECONDS while one long statement runs, so that readers can tell a
    live job from one whose worker died.
    """

    def __init__(self, app, job_id, steps, interval=HEARTBEAT_SECONDS):
        self.side = side_path(app.extensions["autocontact.db"])
        self.url = app.config["DATABASE_URL"]
        self.job_id, self.steps, self.interval = job_id, max(steps, 1), interval
        self.phase, self.step = "Starting", 0
        self._lock, self._wake, self._stopped = threading.Lock(), threading.Event(), False
        self._table_ready = False
        self.store = self._open()
        self._write()  # before the page's first poll
        self._close_store()  # that connection belongs to this (request) thread
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"autocontact-job-{job_id}-progress")
        self._thread.start()

    def _open(self):
        if self.side:
            return connection.open_database(f"sqlite:///{self.side}", timeout=1)
        return connection.open_database(self.url)

    def __call__(self, phase):
        with self._lock:
            self.phase, self.step = phase[:200], min(self.step + 1, self.steps)
        self._wake.set()

    def close(self):
        """Stop the heartbeat (the job's row now says how it ended)."""
        self._stopped = True
        self._wake.set()
        self._thread.join(30)

    def _beat(self):
        try:
            while True:
                self._wake.wait(self.interval)
                self._wake.clear()
                if self._stopped:
                    break
                self._write()
            if self.side:
                self.store.execute_sql(f"DELETE FROM {SIDE_TABLE} WHERE job_id = ?",
                                       (self.job_id,))
        except PeeweeException:
            log.warning("background job %s: could not clear its progress", self.job_id)
        finally:
            self._close_store()

    def _write(self):
        with self._lock:
            phase, done = self.phase, self.step
        try:
            if self.side:
                if not self._table_ready:
                    self.store.execute_sql(
                        f"CREATE TABLE IF NOT EXISTS {SIDE_TABLE} (job_id INTEGER PRIMARY KEY,"
                        " phase TEXT, done INTEGER, heartbeat TEXT)")
                    self._table_ready = True
                self.store.execute_sql(
                    f"INSERT OR REPLACE INTO {SIDE_TABLE} (job_id, phase, done, heartbeat)"
                    " VALUES (?, ?, ?, ?)", (self.job_id, phase, done, _now().isoformat(" ")))
            else:
                (Job.update(phase=phase, done=done, updated_at=_now())
                 .where(Job.id == self.job_id, Job.state == "running").execute(self.store))
        except PeeweeException as error:
            # The database is restarting or the connection was killed: the next beat
            # reconnects. Readers see an old heartbeat meanwhile, which is the truth.
            log.warning("background job %s: progress not written (%s)", self.job_id, error)
            self._close_store()

    def _close_store(self):
        try:
            self.store.close()
        except PeeweeException:
            pass


def start(app, job_id, steps, work):
    """Run ``work(progress)`` in a thread; it returns an outcome with as_dict() and batch_id.

    ``work`` runs in one transaction with the job's final state (its own
    ``atomic()`` becomes a savepoint of it).
    """
    progress = ProgressWriter(app, job_id, steps)
    database = app.extensions["autocontact.db"]
    locale = str(get_locale() or "en")  # the phases are written in the user's language

    def target():
        try:
            with app.app_context(), force_locale(locale), database.connection_context():
                _run(database, job_id, steps, work, progress)
        except Exception:  # the end could not be written: readers will find it stale
            app.logger.exception("background job %s: could not record how it ended", job_id)
        finally:
            progress.close()
    thread = threading.Thread(target=target, name=f"autocontact-job-{job_id}", daemon=False)
    thread.start()
    return thread


def _run(database, job_id, steps, work, progress):
    try:
        with database.atomic():
            outcome = work(progress)
            finished = (Job.update(state="done", done=steps, total=steps, phase="Done",
                                   result=json.dumps(outcome.as_dict(), default=str),
                                   batch_id=outcome.batch_id, updated_at=_now())
                        .where(Job.id == job_id, Job.state == "running").execute())
            if not finished:
                raise Interrupted(job_id)
    except Interrupted:
        log.warning("background job %s was marked interrupted while it ran: rolled back", job_id)
    except Exception:  # the job must end "failed", whatever happened
        log.exception("background job %s failed", job_id)
        (Job.update(state="failed", updated_at=_now(),
                    message=FAILED)
         .where(Job.id == job_id, Job.state == "running").execute())


# --- Reading jobs -----------------------------------------------------------------

def get(job_id, entity):
    """The job with its live progress; marked failed if its worker is gone."""
    job = Job.get_or_none(Job.id == job_id, Job.entity == entity)
    if job is not None and job.state == "running":
        [job] = _look_at([job])
    return job


def running(entity):
    """The entity's running jobs, newest first (interrupted ones are marked failed)."""
    jobs = list(Job.select().where(Job.entity == entity, Job.state == "running")
                .order_by(Job.id.desc()))
    return [job for job in _look_at(jobs) if job.state == "running"]


def _look_at(jobs):
    """Add the live progress to running jobs; mark those whose worker is gone."""
    database = models.database.obj
    side = side_path(database)
    heartbeats = {job.id: _as_datetime(job.updated_at) for job in jobs}
    if side and jobs:
        by_id = {job.id: job for job in jobs}
        for job_id, phase, done, heartbeat in _read_side(side, list(by_id)):
            by_id[job_id].phase, by_id[job_id].done = phase, done
            heartbeats[job_id] = _as_datetime(heartbeat)
    now = _now()
    return [_mark_interrupted(database, job) if _interrupted(job, heartbeats[job.id], now)
            else job for job in jobs]


def _read_side(path, job_ids):
    if not path.exists():
        return []
    side = connection.open_database(f"sqlite:///{path}", timeout=1)
    marks = ", ".join("?" * len(job_ids))
    try:
        with side.connection_context():
            return side.execute_sql(f"SELECT job_id, phase, done, heartbeat FROM {SIDE_TABLE}"
                                    f" WHERE job_id IN ({marks})", job_ids).fetchall()
    except PeeweeException as error:
        log.warning("job progress unreadable in %s: %s", path, error)
        return []


def _as_datetime(value):
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _interrupted(job, heartbeat, now):
    """Whether a running job's worker is gone: its process (seen from its own host), or
    its heartbeat (from anywhere; an unreadable one proves nothing)."""
    if job.owner_host == HOST and job.owner_pid and not _process_alive(job.owner_pid):
        return True
    return heartbeat is not None and now - heartbeat > timedelta(seconds=STALE_AFTER_SECONDS)


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # killed but not yet reaped by its parent (uWSGI's master) is gone too
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _mark_interrupted(database, job):
    """Mark a stale job failed, unless it ended meanwhile; return it as it now is.

    The database rolled its transaction back when its connection died, and the
    job's final update (in that transaction) checks that it is still running, so
    a job marked here never commits.
    """
    query = (Job.update(state="failed", message=INTERRUPTED, updated_at=_now())
             .where(Job.id == job.id, Job.state == "running"))
    try:
        if isinstance(database, SqliteDatabase):
            # Another operation may hold SQLite's writer lock for minutes: don't wait.
            short = connection.open_database(f"sqlite:///{database.database}", timeout=0.5)
            with short.connection_context():
                marked = query.execute(short)
        else:
            marked = query.execute(database)
    except PeeweeException as error:
        log.warning("background job %s is interrupted; not marked yet (%s)", job.id, error)
        marked = 1
    if marked:
        log.warning("background job %s was interrupted (its worker stopped)", job.id)
        job.state, job.message = "failed", INTERRUPTED
        return job
    return Job.get_by_id(job.id)  # it ended in the meantime
