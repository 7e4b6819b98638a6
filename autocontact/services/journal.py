"""The journal: every operation is a batch with the exact rows it changed.

Batches are written in the same transaction as the change they record.
"""
import json
from datetime import datetime

from peewee import JOIN

from ..dolibarr.models import Constant
from ..dolibarr.tool_tables import Batch, BatchSetting


def start_batch(actor, entity, action, params, summary, rows_changed=0, undo_of=None):
    """Insert the batch row and return its id (the caller holds the transaction)."""
    return Batch.insert(
        entity=entity,
        created_at=datetime.now().replace(microsecond=0),
        user_id=actor.user_id,
        user_login=actor.login,
        action=action,
        params=json.dumps(params, ensure_ascii=False, default=str, sort_keys=True),
        summary=summary,
        rows_changed=rows_changed,
        undo_of=undo_of,
    ).execute()


def record_settings(batch_id, entity, changed):
    """Record the constants about to change, with their current rows: two statements."""
    before = {row.name: row for row in Constant.select(Constant.rowid, Constant.name, Constant.value)
              .where(Constant.name.in_(list(changed)), Constant.entity == entity)}
    BatchSetting.insert_many([
        {"batch_id": batch_id, "name": name,
         "old_rowid": before[name].rowid if name in before else None,
         "old_value": before[name].value if name in before else None,
         "new_value": value if value not in (None, "") else None}
        for name, value in changed.items()
    ]).execute()


def settings_changes(batch_id):
    return list(BatchSetting.select().where(BatchSetting.batch_id == batch_id)
                .order_by(BatchSetting.name).dicts())


def batch_detail(batch_id, entity, limit=500):
    """A batch with its rows (names joined in), or None: four queries."""
    from ..dolibarr.models import Thirdparty, User
    from ..dolibarr.tool_tables import BatchSalesRep
    found = Batch.get_or_none(Batch.id == batch_id, Batch.entity == entity)
    if found is None:
        return None
    links = list(
        BatchSalesRep.select(BatchSalesRep, Thirdparty.name.alias("thirdparty_name"),
                             User.login.alias("user_login"), User.firstname, User.lastname)
        .join(Thirdparty, JOIN.LEFT_OUTER, on=(Thirdparty.rowid == BatchSalesRep.fk_soc))
        .join(User, JOIN.LEFT_OUTER, on=(User.rowid == BatchSalesRep.fk_user), src=BatchSalesRep)
        .where(BatchSalesRep.batch_id == batch_id)
        .order_by(Thirdparty.name, BatchSalesRep.change, BatchSalesRep.id)
        .limit(limit).dicts())
    return {"batch": found, "params": json.loads(found.params or "{}"),
            "links": links, "settings": settings_changes(batch_id), "limit": limit}
