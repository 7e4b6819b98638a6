"""Long operations in the background, with progress any uWSGI worker can read.

The operation itself runs exactly as in the foreground (one transaction, in a
thread of the worker that accepted it); its progress is written through a
separate database connection, so it is visible while that transaction is open.
Closing the browser does not stop it.
"""
import json
import threading
from datetime import datetime

from peewee import PeeweeException

from ..dolibarr import connection
from ..dolibarr.tool_tables import Job


def _now():
    return datetime.now().replace(microsecond=0)


def create(actor, entity, kind, label, total):
    return Job.insert(entity=entity, user_id=actor.user_id, kind=kind, label=label,
                      state="running", phase="Starting", total=total, done=0,
                      created_at=_now(), updated_at=_now()).execute()


class ProgressWriter:
    """Writes a job's phase on its own connection (outside the operation's transaction)."""

    def __init__(self, app, job_id, steps):
        self.database = connection.open_database(app.config["DATABASE_URL"], timeout=0.2)
        self.table = Job._meta.table_name
        self.job_id, self.steps, self.step = job_id, max(steps, 1), 0

    def __call__(self, phase):
        self.step += 1
        param = self.database.param
        try:
            self.database.execute_sql(
                f"UPDATE {self.table} SET phase = {param}, done = {param}, updated_at = {param}"
                f" WHERE id = {param}",
                (phase[:200], min(self.step, self.steps), _now(), self.job_id))
        except PeeweeException:
            # SQLite has one writer at a time: while the operation's transaction is open
            # progress cannot be written there, and the bar jumps to the end instead.
            pass

    def close(self):
        if not self.database.is_closed():
            self.database.close()


def start(app, job_id, steps, work):
    """Run ``work(progress)`` in a thread; it returns an outcome with as_dict() and batch_id."""
    def target():
        progress = ProgressWriter(app, job_id, steps)
        database = app.extensions["autocontact.db"]
        try:
            with app.app_context(), database.connection_context():
                try:
                    outcome = work(progress)
                except Exception as error:  # the job must end "failed", whatever happened
                    app.logger.exception("background job %s failed", job_id)
                    Job.update(state="failed", updated_at=_now(),
                               message=f"The operation failed and nothing was changed: "
                                       f"{error.__class__.__name__}.").where(
                        Job.id == job_id).execute()
                    return
                Job.update(state="done", done=steps, total=steps, phase="Done",
                           result=json.dumps(outcome.as_dict(), default=str),
                           batch_id=outcome.batch_id, updated_at=_now()).where(
                    Job.id == job_id).execute()
        finally:
            progress.close()
    thread = threading.Thread(target=target, name=f"autocontact-job-{job_id}", daemon=False)
    thread.start()
    return thread


def get(job_id, entity):
    return Job.get_or_none(Job.id == job_id, Job.entity == entity)


def running(entity):
    return list(Job.select().where(Job.entity == entity, Job.state == "running")
                .order_by(Job.id.desc()))
