"""The tool's own tables, named prefix + ``autocontact_`` beside Dolibarr's.

They are the only tables autocontact ever creates, on demand at start-up.
"""
from peewee import AutoField, CharField, DateTimeField, IntegerField, TextField

from .models import DolibarrModel


class LoginAttempt(DolibarrModel):
    """Failed logins, shared by every uWSGI worker, for throttling."""
    id = AutoField()
    login = CharField(max_length=255, index=True)
    address = CharField(max_length=64, index=True)
    attempted_at = DateTimeField(index=True)

    class Meta:
        dolibarr_table = "autocontact_login_attempt"


class Batch(DolibarrModel):
    """One operation of the tool: who, when, what, with which counts."""
    id = AutoField()
    entity = IntegerField(index=True)
    created_at = DateTimeField(index=True)
    user_id = IntegerField(index=True)
    user_login = CharField(max_length=50)
    action = CharField(max_length=32, index=True)   # assign, transfer, settings, undo, ...
    params = TextField()                             # JSON of the request
    summary = TextField()
    rows_changed = IntegerField(default=0)
    thirdparties = IntegerField(default=0)
    links_added = IntegerField(default=0)
    links_removed = IntegerField(default=0)
    documents_changed = IntegerField(default=0)
    contacts_added = IntegerField(default=0)
    contacts_removed = IntegerField(default=0)
    state = CharField(max_length=16, default="applied")  # applied, undone, partly_undone
    undo_of = IntegerField(null=True, index=True)

    class Meta:
        dolibarr_table = "autocontact_batch"


class BatchSetting(DolibarrModel):
    """A constant changed by a batch, with its row before, so it can be restored."""
    id = AutoField()
    batch_id = IntegerField(index=True)
    name = CharField(max_length=255)
    old_rowid = IntegerField(null=True)      # None: the constant did not exist
    old_value = TextField(null=True)
    new_value = TextField(null=True)         # None: the constant was deleted

    class Meta:
        dolibarr_table = "autocontact_batch_setting"


class BatchSalesRep(DolibarrModel):
    """A sales-rep link a batch added (+) or removed (-), as the row was."""
    id = AutoField()
    batch_id = IntegerField(index=True)
    change = CharField(max_length=1)          # '+' added, '-' removed
    link_rowid = IntegerField(null=True)      # llx_societe_commerciaux.rowid
    fk_soc = IntegerField(index=True)
    fk_user = IntegerField()
    import_key = CharField(max_length=14, null=True)
    type_code = CharField(max_length=32, null=True)

    class Meta:
        dolibarr_table = "autocontact_batch_salesrep"
        # Every step of an operation and of its undo finds its rows by these.
        indexes = ((("batch_id", "change", "link_rowid"), False),)


class BatchSelection(DolibarrModel):
    """The thirdparties an operation works on, fixed once at its start (a filter on
    sales reps would otherwise stop matching half-way through). Emptied at the end."""
    id = AutoField()
    batch_id = IntegerField()
    fk_soc = IntegerField()

    class Meta:
        dolibarr_table = "autocontact_batch_selection"
        indexes = ((("batch_id", "fk_soc"), True),)


class BatchContact(DolibarrModel):
    """A document contact a batch added (+) or removed (-), as the row was."""
    id = AutoField()
    batch_id = IntegerField(index=True)
    change = CharField(max_length=1)          # '+' added, '-' removed
    ec_rowid = IntegerField(null=True)        # llx_element_contact.rowid
    element = CharField(max_length=32)        # document type (llx_c_type_contact.element)
    element_id = IntegerField()
    fk_soc = IntegerField(null=True, index=True)
    fk_c_type_contact = IntegerField()
    fk_socpeople = IntegerField()
    statut = IntegerField(null=True)
    datecreate = DateTimeField(null=True)

    class Meta:
        dolibarr_table = "autocontact_batch_contact"
        # Every step of an operation and of its undo finds its rows by these (batch_id
        # alone keeps the journal screen's rows in id order). Each index costs every
        # journal row written: (batch_id, change, element), once declared, served no
        # query the row-id index does not.
        indexes = ((("batch_id", "change", "ec_rowid"), False),)


class PendingContact(DolibarrModel):
    """Document contacts an operation is about to add, until Dolibarr's table gives them
    row ids: a temporary table of the operation's connection, emptied at the end. Rows
    are written to the journal once, with their row ids, instead of being written and
    then updated (an UPDATE of every added row was the costliest step on MariaDB)."""
    element = CharField(max_length=32)
    element_id = IntegerField()
    fk_soc = IntegerField(null=True)
    fk_c_type_contact = IntegerField()
    fk_socpeople = IntegerField()

    class Meta:
        dolibarr_table = "autocontact_pending_contact"
        temporary = True
        primary_key = False


class PreviewSelection(DolibarrModel):
    """The thirdparties a preview reads about (temporary, rolled back with the preview):
    joined by key like BatchSelection, instead of a long id list repeated in every
    statement, which MariaDB plans poorly inside derived tables."""
    fk_soc = IntegerField(primary_key=True)

    class Meta:
        dolibarr_table = "autocontact_preview_selection"
        temporary = True


class OperationSelection(DolibarrModel):
    """The thirdparties a sales-rep mass action works on, fixed once at its start (as
    BatchSelection does for the document updates): a temporary table of the operation's
    connection, dropped at its end; its rows go to no redo log and need no DELETE."""
    fk_soc = IntegerField(primary_key=True)

    class Meta:
        dolibarr_table = "autocontact_operation_selection"
        temporary = True


class PendingSalesRep(DolibarrModel):
    """Sales-rep links an operation is about to add (see PendingContact)."""
    fk_soc = IntegerField()
    fk_user = IntegerField()
    type_code = CharField(max_length=32, null=True)

    class Meta:
        dolibarr_table = "autocontact_pending_salesrep"
        temporary = True
        primary_key = False


class Job(DolibarrModel):
    """A long operation running in the background; any worker answers its progress."""
    id = AutoField()
    entity = IntegerField(index=True)
    user_id = IntegerField()
    kind = CharField(max_length=32)           # salesreps, documents
    label = TextField()
    state = CharField(max_length=16, index=True, default="running")  # running, done, failed
    phase = TextField(null=True)
    done = IntegerField(default=0)
    total = IntegerField(default=0)
    message = TextField(null=True)
    result = TextField(null=True)             # JSON of the outcome
    batch_id = IntegerField(null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()              # heartbeat while running (SQLite: the side file)
    owner_host = CharField(max_length=255, null=True)  # the worker process running it
    owner_pid = IntegerField(null=True)

    class Meta:
        dolibarr_table = "autocontact_job"


TOOL_MODELS = (LoginAttempt, Batch, BatchSetting, BatchSalesRep, BatchSelection, BatchContact,
               Job)


class LoginSession(DolibarrModel):
    """A signed-in browser session. The session cookie carries its token: logging out
    deletes the row, and a cookie whose row is gone (logout, idle for longer than the
    session lifetime) no longer signs anyone in, even if it was copied before."""
    id = AutoField()
    token = CharField(max_length=64, unique=True)
    user_id = IntegerField(index=True)
    created_at = DateTimeField()
    last_seen = DateTimeField(index=True)     # refreshed every few minutes of use

    class Meta:
        dolibarr_table = "autocontact_session"


TOOL_MODELS += (LoginSession,)
