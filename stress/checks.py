"""What must hold after any run: no duplicates, the journal matches the tables.

The journal is replayed: starting from the tables as they were before the run,
every batch is applied with exactly the rows it recorded ('-' rows must exist
as recorded and are removed, '+' rows must not exist yet and are added). Batches
may commit in another order than their ids (a batch waits for another's locks),
so the replay takes, each time, the lowest batch that applies; a batch that never
applies is a journal that does not match what happened. The end of the replay
must be exactly the tables as they are.
"""
from dataclasses import dataclass, field

LINKS = "llx_societe_commerciaux"
CONTACTS = "llx_element_contact"


def rows(connection, sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def links(connection):
    """Sales-rep links: rowid -> (fk_soc, fk_user)."""
    return {r[0]: (r[1], r[2]) for r in rows(connection, f"SELECT rowid, fk_soc, fk_user FROM {LINKS}")}


def contacts(connection):
    """Element contacts: rowid -> (element_id, fk_c_type_contact, fk_socpeople)."""
    return {r[0]: (r[1], r[2], r[3]) for r in rows(
        connection, f"SELECT rowid, element_id, fk_c_type_contact, fk_socpeople FROM {CONTACTS}")}


def snapshot(connection):
    return {"links": links(connection), "contacts": contacts(connection)}


def duplicates(connection):
    """Sales-rep pairs and document contacts present more than once."""
    pairs = rows(connection, f"SELECT fk_soc, fk_user, COUNT(*) FROM {LINKS} "
                             "GROUP BY fk_soc, fk_user HAVING COUNT(*) > 1")
    same = rows(connection, f"SELECT element_id, fk_c_type_contact, fk_socpeople, COUNT(*) "
                            f"FROM {CONTACTS} GROUP BY element_id, fk_c_type_contact, "
                            "fk_socpeople HAVING COUNT(*) > 1")
    return {"salesrep_links": len(pairs), "element_contacts": len(same)}


def checksums(connection, tables):
    """CHECKSUM TABLE of each table (MariaDB): equal checksums, equal contents."""
    quoted = ", ".join(f"`{t}`" for t in tables)
    return dict(rows(connection, f"CHECKSUM TABLE {quoted}"))


@dataclass
class Replay:
    batches: int = 0
    rows_checked: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems


def replay(connection, before, after=None, since_batch=0):
    """Replay every batch after ``since_batch`` on ``before``; compare with ``after``
    (the tables now when not given). Returns a Replay with the problems found."""
    after = after or snapshot(connection)
    result = Replay()
    batches = {r[0]: {"action": r[1], "state": r[2], "undo_of": r[3], "counts": r[4:8],
                      "links": [], "contacts": []}
               for r in rows(connection,
                             "SELECT id, action, state, undo_of, links_added, links_removed, "
                             "contacts_added, contacts_removed FROM llx_autocontact_batch "
                             "WHERE id > %s ORDER BY id", (since_batch,))}
    for batch_id, change, rowid, soc, user in rows(
            connection, "SELECT batch_id, `change`, link_rowid, fk_soc, fk_user "
                        "FROM llx_autocontact_batch_salesrep WHERE batch_id > %s ORDER BY id",
            (since_batch,)):
        batches[batch_id]["links"].append((change, rowid, (soc, user)))
    for batch_id, change, rowid, element_id, kind, person in rows(
            connection, "SELECT batch_id, `change`, ec_rowid, element_id, fk_c_type_contact, "
                        "fk_socpeople FROM llx_autocontact_batch_contact WHERE batch_id > %s "
                        "ORDER BY id", (since_batch,)):
        batches[batch_id]["contacts"].append((change, rowid, (element_id, kind, person)))
    result.batches = len(batches)

    for batch_id, batch in batches.items():
        added = sum(1 for c, *_ in batch["links"] if c == "+")
        removed = len(batch["links"]) - added
        c_added = sum(1 for c, *_ in batch["contacts"] if c == "+")
        c_removed = len(batch["contacts"]) - c_added
        if tuple(batch["counts"]) != (added, removed, c_added, c_removed):
            result.problems.append(f"batch {batch_id}: counts {batch['counts']} but rows "
                                   f"{(added, removed, c_added, c_removed)}")
    undos = {}
    for batch_id, batch in batches.items():
        if batch["action"] == "undo":
            undos.setdefault(batch["undo_of"], []).append(batch_id)
    for original, undo_ids in undos.items():
        if len(undo_ids) > 1:
            result.problems.append(f"batch {original} undone {len(undo_ids)} times: {undo_ids}")
        if original in batches and batches[original]["state"] == "applied":
            result.problems.append(f"batch {original} has an undo but is still 'applied'")

    state = {"links": dict(before["links"]), "contacts": dict(before["contacts"])}
    pending = sorted(batches)
    while pending:
        for index, batch_id in enumerate(pending):
            if _applies(state, batches[batch_id]):
                _apply(state, batches[batch_id])
                result.rows_checked += len(batches[batch_id]["links"]) + len(
                    batches[batch_id]["contacts"])
                del pending[index]
                break
        else:
            first = pending[0]
            result.problems.append(
                f"{len(pending)} batch(es) whose rows do not match the tables in any order, "
                f"first #{first}: {_why_not(state, batches[first])}")
            break
    for table in ("links", "contacts"):
        result.rows_checked += len(after[table])
        if state[table] != after[table]:
            lost = {k: v for k, v in state[table].items() if after[table].get(k) != v}
            extra = {k: v for k, v in after[table].items() if state[table].get(k) != v}
            result.problems.append(f"{table}: replayed journal differs from the table: "
                                   f"missing {list(lost.items())[:5]}, unexpected "
                                   f"{list(extra.items())[:5]}")
    return result


def _applies(state, batch):
    for table in ("links", "contacts"):
        current = state[table]
        removed = set()
        for change, rowid, values in batch[table]:
            if change == "-":
                if rowid is None or current.get(rowid) != values:
                    return False
                removed.add(rowid)
        for change, rowid, _values in batch[table]:
            if change == "+" and (rowid is None or (rowid in current and rowid not in removed)):
                return False
    return True


def _apply(state, batch):
    for table in ("links", "contacts"):
        for change, rowid, _ in batch[table]:
            if change == "-":
                del state[table][rowid]
        for change, rowid, values in batch[table]:
            if change == "+":
                state[table][rowid] = values


def _why_not(state, batch):
    for table in ("links", "contacts"):
        for change, rowid, values in batch[table]:
            if change == "-" and state[table].get(rowid) != values:
                return f"{table} row {rowid} {values} recorded as removed is not there"
            if change == "+" and (rowid is None or rowid in state[table]):
                return f"{table} row {rowid} {values} recorded as added already exists"
    return "?"
