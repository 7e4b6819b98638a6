"""Finding thirdparties: the list's filters, also used to select thirdparties
for a mass action ("all N thirdparties matching this filter").

A filter is a plain dict with the list's query-string keys. It becomes one
peewee query; pages read their sales reps in one more query, never per row.
"""
import operator
from dataclasses import dataclass, field
from functools import reduce

from flask_babel import gettext as _
from peewee import SQL, NodeList, Value, fn

from ..dolibarr.models import SalesRepLink, Thirdparty, User
from . import directory

KINDS = ("customer", "prospect", "supplier")
STATUSES = ("open", "closed")
SORTS = {"name": Thirdparty.name, "code": Thirdparty.code_client, "town": Thirdparty.town,
         "status": Thirdparty.status, "created": Thirdparty.datec}
PAGE_SIZES = (25, 50, 100)
FILTER_KEYS = ("q", "kind", "status", "rep")


class FilterInvalid(ValueError):
    """A filter value the list does not understand; ``field`` names it."""

    def __init__(self, field_name, message):
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class ThirdpartyFilter:
    q: str = ""
    kind: str = ""
    status: str = ""
    rep: str = ""            # a user id, "none" or "inactive_only"
    sort: str = "name"
    page: int = 1
    per_page: int = 25
    extra: dict = field(default_factory=dict)

    def criteria(self):
        """The keys that select thirdparties (not sort or paging)."""
        return {key: getattr(self, key) for key in FILTER_KEYS if getattr(self, key)}

    def query_args(self, **changes):
        """Query-string arguments for this filter, with some changed."""
        args = {**self.criteria(), "sort": self.sort, "page": self.page,
                "per_page": self.per_page, **changes}
        return {key: value for key, value in args.items()
                if value not in ("", None) and not (key == "sort" and value == "name")
                and not (key == "page" and value == 1) and not (key == "per_page" and value == 25)}


def storable_text(text, key):
    """Refuse text Dolibarr's tables cannot hold: broken Unicode (lone surrogates), and
    characters beyond the Basic Multilingual Plane (utf8mb3, Dolibarr's default charset)."""
    if any(0xD800 <= ord(ch) <= 0xDFFF or ord(ch) > 0xFFFF or ch == "\x00" for ch in text):
        raise FilterInvalid(key, _("'%(name)s' contains characters Dolibarr's database cannot "
                                   "store (emoji, control or broken characters).", name=key))
    return text


def _single(values, key):
    value = values.get(key, "")
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise FilterInvalid(key, _("'%(name)s' must be a single value.", name=key))
    return storable_text(str(value).strip(), key)


def _whole(values, key, default, allowed=None, minimum=1):
    text = _single(values, key)
    if not text:
        return default
    if not text.isdecimal() or len(text) > 9 or int(text) < minimum:
        raise FilterInvalid(key, _("'%(name)s' must be a whole number of at least %(minimum)s.",
                                    name=key, minimum=minimum))
    if allowed and int(text) not in allowed:
        raise FilterInvalid(key, _("'%(name)s' must be one of %(values)s.", name=key,
                                    values=", ".join(map(str, allowed))))
    return int(text)


def parse_filter(values):
    """Build a ThirdpartyFilter from query args or a JSON object; raise FilterInvalid."""
    if not hasattr(values, "get"):
        raise FilterInvalid("filter", _("The filter must be an object of list criteria."))
    q = _single(values, "q")
    if len(q) > 200:
        raise FilterInvalid("q", _("The search text is too long (200 characters at most)."))
    kind = _single(values, "kind")
    if kind and kind not in KINDS:
        raise FilterInvalid("kind", _("Unknown kind '%(kind)s': use %(kinds)s.", kind=kind[:40],
                                       kinds=", ".join(KINDS)))
    status = _single(values, "status")
    if status and status not in STATUSES:
        raise FilterInvalid("status", _("Status must be 'open' or 'closed'."))
    rep = _single(values, "rep")
    if rep and rep not in ("none", "inactive_only") and not (rep.isdecimal() and len(rep) < 10):
        raise FilterInvalid("rep", _("Sales rep must be a user id, 'none' or 'inactive_only'."))
    sort = _single(values, "sort") or "name"
    if sort.lstrip("-") not in SORTS:
        raise FilterInvalid("sort", _("Unknown sort '%(sort)s': use %(sorts)s.", sort=sort[:40],
                                       sorts=", ".join(SORTS)))
    return ThirdpartyFilter(
        q=q, kind=kind, status=status, rep=rep, sort=sort,
        page=_whole(values, "page", 1),
        per_page=_whole(values, "per_page", 25, PAGE_SIZES),
    )


def _contains(column, text):
    """``column`` contains ``text``, case-insensitively, with % and _ taken literally."""
    escaped = text.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return NodeList((fn.LOWER(column), SQL("LIKE"), Value(f"%{escaped}%"), SQL("ESCAPE '!'")))


def matching(criteria, entity):
    """A query of the thirdparties of the entity that match the filter."""
    query = Thirdparty.select().where(Thirdparty.entity == entity)
    if criteria.q:
        columns = (Thirdparty.name, Thirdparty.name_alias, Thirdparty.code_client,
                   Thirdparty.code_fournisseur, Thirdparty.town)
        query = query.where(reduce(operator.or_, (_contains(c, criteria.q) for c in columns)))
    if criteria.kind == "customer":
        query = query.where(Thirdparty.client.in_((1, 3)))
    elif criteria.kind == "prospect":
        query = query.where(Thirdparty.client.in_((2, 3)))
    elif criteria.kind == "supplier":
        query = query.where(Thirdparty.fournisseur == 1)
    if criteria.status:
        query = query.where(Thirdparty.status == (1 if criteria.status == "open" else 0))
    if criteria.rep == "none":
        query = query.where(~fn.EXISTS(
            SalesRepLink.select(SalesRepLink.rowid).where(SalesRepLink.fk_soc == Thirdparty.rowid)))
    elif criteria.rep == "inactive_only":
        any_link = SalesRepLink.select(SalesRepLink.rowid).where(
            SalesRepLink.fk_soc == Thirdparty.rowid)
        active_link = (SalesRepLink.select(SalesRepLink.rowid)
                       .join(User, on=(User.rowid == SalesRepLink.fk_user))
                       .where(SalesRepLink.fk_soc == Thirdparty.rowid, User.statut == 1))
        query = query.where(fn.EXISTS(any_link), ~fn.EXISTS(active_link))
    elif criteria.rep:
        # IN (uncorrelated subquery), not EXISTS: MariaDB then materialises the rep's links
        # and reaches each thirdparty by key, also inside COUNT and INSERT ... SELECT.
        query = query.where(Thirdparty.rowid.in_(
            SalesRepLink.select(SalesRepLink.fk_soc).where(
                SalesRepLink.fk_user == int(criteria.rep))))
    return query


@dataclass
class Page:
    rows: list
    total: int
    filter: ThirdpartyFilter

    @property
    def pages(self):
        return max(1, -(-self.total // self.filter.per_page))


def list_page(criteria, entity):
    """One page of the list with each row's sales reps: three queries in all."""
    query = matching(criteria, entity)
    # COUNT on the query itself: peewee's count() wraps it in a derived table, inside
    # which MariaDB probes a correlated subquery per thirdparty of the company.
    total = query.select(fn.COUNT(Thirdparty.rowid)).scalar() or 0
    column = SORTS[criteria.sort.lstrip("-")]
    order = column.desc() if criteria.sort.startswith("-") else column.asc()
    tiebreak = Thirdparty.rowid.desc() if criteria.sort.startswith("-") else Thirdparty.rowid
    rows = list(query.order_by(order, tiebreak).paginate(criteria.page, criteria.per_page))
    reps = directory.sales_reps([row.rowid for row in rows], entity)
    for row in rows:
        row.sales_reps = reps.get(row.rowid, [])
    return Page(rows=rows, total=total, filter=criteria)
