"""Reading who follows what: sales reps of thirdparties, contacts of documents.

Each function runs a fixed number of queries whatever the number of ids,
and reads exactly what Dolibarr's own code reads (FACTS.md sections 2-3).
"""
from collections import defaultdict

from peewee import JOIN, Case, fn

from ..dolibarr import doctypes
from ..dolibarr.models import (
    DOCUMENT_MODELS,
    ContactType,
    ElementContact,
    SalesRepLink,
    Thirdparty,
    User,
)


def user_entities(entity):
    """Users of an entity include the shared ones of entity 0 (superadmins)."""
    return (0, entity)


def sales_reps(thirdparty_ids, entity):
    """Sales reps per thirdparty id, as Societe::getSalesRepresentatives lists them.

    Joined on llx_user with user entity in (0, entity); no filter on the link's
    type code or on the user's status (inactive reps are returned and marked);
    sorted by lastname, firstname.
    """
    result = defaultdict(list)
    if not thirdparty_ids:
        return result
    query = (
        User.select(User.rowid, User.login, User.firstname, User.lastname, User.statut,
                    User.fk_soc, SalesRepLink.fk_soc.alias("thirdparty_id"))
        .join(SalesRepLink, on=(SalesRepLink.fk_user == User.rowid))
        .where(SalesRepLink.fk_soc.in_(list(thirdparty_ids)),
               User.entity.in_(user_entities(entity)))
        .order_by(User.lastname, User.firstname, User.rowid)
        .distinct()
    )
    for user in query.objects():
        result[user.thirdparty_id].append(user)
    return result


def document_contacts(element, document_ids, source="internal", code=None):
    """Contacts per document id, as CommonObject::liste_contact lists them.

    Only contact types of this element and source that are active in the
    dictionary; the link's own statut is not filtered (statusoflink = -1).
    """
    result = defaultdict(list)
    if not document_ids:
        return result
    person = User if source == "internal" else None
    columns = [ElementContact.rowid.alias("link_id"), ElementContact.element_id,
               ElementContact.statut.alias("link_status"), ElementContact.fk_socpeople,
               ContactType.code, ContactType.label.alias("type_label")]
    query = ElementContact.select(*columns).join(
        ContactType, on=(ContactType.rowid == ElementContact.fk_c_type_contact))
    if person is User:
        query = query.select_extend(User.login, User.firstname, User.lastname, User.statut).join(
            User, JOIN.LEFT_OUTER, on=(User.rowid == ElementContact.fk_socpeople))
    query = query.where(
        ElementContact.element_id.in_(list(document_ids)),
        ContactType.element == element,
        ContactType.source == source,
        ContactType.active == 1,
    )
    if code:
        query = query.where(ContactType.code == code)
    for row in query.order_by(ElementContact.element_id, ElementContact.rowid).dicts():
        result[row["element_id"]].append(row)
    return result


def count_if(condition):
    """SUM of 1 where ``condition`` holds: a count inside a grouped query."""
    return fn.SUM(Case(None, [(condition, 1)], 0))


def company_overview(entity):
    """Headline figures for the home page: a fixed handful of grouped queries."""
    kinds = (
        Thirdparty.select(
            fn.COUNT(Thirdparty.rowid).alias("total"),
            count_if(Thirdparty.client.in_((1, 3))).alias("customers"),
            count_if(Thirdparty.client.in_((2, 3))).alias("prospects"),
            count_if(Thirdparty.fournisseur == 1).alias("suppliers"),
            count_if(Thirdparty.status == 0).alias("closed"),
        )
        .where(Thirdparty.entity == entity)
        .dicts()
        .get()
    )
    with_rep = (
        SalesRepLink.select(fn.COUNT(SalesRepLink.fk_soc.distinct()))
        .join(Thirdparty, on=(Thirdparty.rowid == SalesRepLink.fk_soc))
        .where(Thirdparty.entity == entity)
        .scalar()
    )
    users = (
        User.select(User.statut, fn.COUNT(User.rowid).alias("count"))
        .where(User.entity.in_(user_entities(entity)), User.internal())
        .group_by(User.statut)
        .tuples()
    )
    users_by_status = dict(users)
    documents = []
    for doc_type in doctypes.DOC_TYPES:
        model = DOCUMENT_MODELS[doc_type.element]
        total = model.select().where(model.entity == entity).count()
        documents.append({"type": doc_type, "count": total})
    return {
        "thirdparties": {key: int(value or 0) for key, value in kinds.items()},
        "without_rep": int(kinds["total"] or 0) - int(with_rep or 0),
        "active_users": users_by_status.get(1, 0),
        "inactive_users": users_by_status.get(0, 0),
        "documents": documents,
    }


def internal_users(entity, active_only=False):
    """Internal users of the entity (and shared entity 0), by name."""
    query = User.select().where(User.entity.in_(user_entities(entity)), User.internal())
    if active_only:
        query = query.where(User.statut == 1)
    return list(query.order_by(User.lastname, User.firstname, User.login))


def reps_present(thirdparty_query, entity):
    """The users who represent at least one of these thirdparties, inactive ones included."""
    return list(
        User.select().where(
            User.entity.in_(user_entities(entity)),
            User.rowid.in_(SalesRepLink.select(SalesRepLink.fk_user)
                           .where(SalesRepLink.fk_soc.in_(thirdparty_query))))
        .order_by(User.lastname, User.firstname, User.login))
