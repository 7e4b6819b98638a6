"""Peewee models over Dolibarr's own tables, mapped to its real column names.

The table prefix is applied at run time by :func:`bind` (``llx_`` by
default); each model keeps its unprefixed name in ``Meta.dolibarr_table``.
Columns that exist only in some Dolibarr versions are not declared here:
:mod:`autocontact.dolibarr.schema` detects them on the live database.
"""
from peewee import (
    AutoField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    IntegerField,
    Model,
    TextField,
)

from . import doctypes

database = DatabaseProxy()


class DolibarrModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Thirdparty(DolibarrModel):
    """llx_societe: customers, prospects and suppliers."""
    rowid = AutoField()
    entity = IntegerField(default=1)
    name = CharField(column_name="nom", null=True)
    name_alias = CharField(null=True)
    code_client = CharField(null=True)
    code_fournisseur = CharField(null=True)
    client = IntegerField(default=0)        # 0 none, 1 customer, 2 prospect, 3 both
    fournisseur = IntegerField(default=0)   # 1 supplier
    town = CharField(null=True)
    zip = CharField(null=True)
    email = CharField(null=True)
    status = IntegerField(default=1)        # 1 open, 0 closed
    datec = DateTimeField(null=True)
    default_lang = CharField(null=True)

    class Meta:
        dolibarr_table = "societe"

    @property
    def kinds(self):
        kinds = []
        if self.client in (1, 3):
            kinds.append("customer")
        if self.client in (2, 3):
            kinds.append("prospect")
        if self.fournisseur == 1:
            kinds.append("supplier")
        return kinds


class User(DolibarrModel):
    """llx_user: internal users (fk_soc NULL) and external ones."""
    rowid = AutoField()
    entity = IntegerField(default=1)
    login = CharField()
    lastname = CharField(null=True)
    firstname = CharField(null=True)
    email = CharField(null=True)
    pass_crypted = CharField(null=True)
    clear_pass = CharField(column_name="pass", null=True)  # old installs without encryption
    admin = IntegerField(default=0)
    statut = IntegerField(default=1)        # 1 active, 0 disabled
    fk_soc = IntegerField(null=True)        # set: external user of that thirdparty
    employee = IntegerField(default=1)
    lang = CharField(null=True)
    ldap_sid = CharField(null=True)
    datec = DateTimeField(null=True)

    class Meta:
        dolibarr_table = "user"

    @property
    def full_name(self):
        name = " ".join(part for part in (self.firstname, self.lastname) if part)
        return name or self.login

    @property
    def is_internal(self):
        return not self.fk_soc

    @classmethod
    def internal(cls):
        """Condition: an internal user (no thirdparty; some installs store 0 for none)."""
        return cls.fk_soc.is_null() | (cls.fk_soc == 0)

    @property
    def is_active(self):
        return self.statut == 1


class SalesRepLink(DolibarrModel):
    """llx_societe_commerciaux: a sales representative of a thirdparty."""
    rowid = AutoField()
    fk_soc = IntegerField(null=True)
    fk_user = IntegerField(null=True)
    import_key = CharField(null=True)

    class Meta:
        dolibarr_table = "societe_commerciaux"


class UserGroup(DolibarrModel):
    rowid = AutoField()
    name = CharField(column_name="nom")
    entity = IntegerField(default=1)
    note = TextField(null=True)
    datec = DateTimeField(null=True)

    class Meta:
        dolibarr_table = "usergroup"


class UserGroupMember(DolibarrModel):
    """llx_usergroup_user: membership is per entity."""
    rowid = AutoField()
    entity = IntegerField(default=1)
    fk_user = IntegerField()
    fk_usergroup = IntegerField()

    class Meta:
        dolibarr_table = "usergroup_user"


class UserRight(DolibarrModel):
    """llx_user_rights: a right (llx_rights_def.id) given to a user, per entity."""
    rowid = AutoField()
    entity = IntegerField(default=1)
    fk_user = IntegerField()
    fk_id = IntegerField()

    class Meta:
        dolibarr_table = "user_rights"


class GroupRight(DolibarrModel):
    """llx_usergroup_rights: a right given to a group, per entity."""
    rowid = AutoField()
    entity = IntegerField(default=1)
    fk_usergroup = IntegerField()
    fk_id = IntegerField()

    class Meta:
        dolibarr_table = "usergroup_rights"


class ContactType(DolibarrModel):
    """llx_c_type_contact: the dictionary of contact roles per element."""
    rowid = AutoField()
    element = CharField()
    source = CharField()                    # 'internal' (users) or 'external' (contacts)
    code = CharField()
    label = CharField(column_name="libelle", null=True)
    active = IntegerField(default=1)
    module = CharField(null=True)
    position = IntegerField(default=0)

    class Meta:
        dolibarr_table = "c_type_contact"


class ElementContact(DolibarrModel):
    """llx_element_contact: a person in a role on a document."""
    rowid = AutoField()
    datecreate = DateTimeField(null=True)
    statut = IntegerField(default=5)        # Dolibarr writes 4 (active)
    element_id = IntegerField()
    fk_c_type_contact = IntegerField()
    fk_socpeople = IntegerField()           # llx_user.rowid when the type is internal

    class Meta:
        dolibarr_table = "element_contact"


class Contact(DolibarrModel):
    """llx_socpeople: external contacts of thirdparties."""
    rowid = AutoField()
    entity = IntegerField(default=1)
    fk_soc = IntegerField(null=True)
    lastname = CharField(null=True)
    firstname = CharField(null=True)
    email = CharField(null=True)
    statut = IntegerField(default=1)
    datec = DateTimeField(null=True)

    class Meta:
        dolibarr_table = "socpeople"


class Constant(DolibarrModel):
    """llx_const: Dolibarr's settings, where autocontact keeps its own."""
    rowid = AutoField()
    name = CharField()
    entity = IntegerField(default=1)
    value = TextField(null=True)
    type = CharField(default="chaine")
    visible = IntegerField(default=0)
    note = TextField(null=True)

    class Meta:
        dolibarr_table = "const"


class AgendaEvent(DolibarrModel):
    """llx_actioncomm: events shown in a thirdparty's Events tab."""
    id = AutoField()
    ref = CharField()
    entity = IntegerField(default=1)
    datep = DateTimeField(null=True)
    datep2 = DateTimeField(null=True)
    fk_action = IntegerField(null=True)
    code = CharField(null=True)
    label = CharField()
    datec = DateTimeField(null=True)
    fk_user_author = IntegerField(null=True)
    fk_user_action = IntegerField(null=True)
    fk_soc = IntegerField(null=True)
    percent = IntegerField(default=0)
    note = TextField(null=True)
    fk_element = IntegerField(null=True)
    elementtype = CharField(null=True)

    class Meta:
        dolibarr_table = "actioncomm"


def _document_model(doc_type):
    """Build the model of one document table from its registry entry."""
    fields = {
        "rowid": AutoField(),
        "ref": CharField(column_name=doc_type.ref_column, null=True),
        "entity": IntegerField(column_name=doc_type.entity_column, default=1),
        "fk_soc": IntegerField(column_name=doc_type.thirdparty_column, null=True),
        "status": IntegerField(column_name=doc_type.status_column, null=True),
        "datec": DateTimeField(column_name=doc_type.creation_date_column, null=True),
        "Meta": type("Meta", (), {"dolibarr_table": doc_type.table}),
        "doc_type": doc_type,
    }
    if doc_type.date_column:
        fields["date"] = DateTimeField(column_name=doc_type.date_column, null=True)
    if doc_type.label_column:
        fields["title"] = CharField(column_name=doc_type.label_column, null=True)
    class_name = "".join(part.title() for part in doc_type.element.split("_")) + "Document"
    return type(class_name, (DolibarrModel,), fields)


DOCUMENT_MODELS = {doc_type.element: _document_model(doc_type) for doc_type in doctypes.DOC_TYPES}

DOLIBARR_MODELS = (
    Thirdparty, User, SalesRepLink, UserGroup, UserGroupMember, UserRight, GroupRight,
    ContactType, ElementContact, Contact, Constant, AgendaEvent, *DOCUMENT_MODELS.values(),
)


def bind(prefix, salesrep_type_code=True):
    """Point every model (Dolibarr's tables and the tool's own) at ``prefix`` + its name.

    ``salesrep_type_code``: whether llx_societe_commerciaux has
    fk_c_type_contact_code (Dolibarr 20+), detected on the live database.
    """
    pending = list(DolibarrModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        model._meta.set_table_name(prefix + model._meta.dolibarr_table)
    declared = "type_code" in SalesRepLink._meta.fields
    if salesrep_type_code and not declared:
        SalesRepLink._meta.add_field("type_code", CharField(
            column_name="fk_c_type_contact_code", default="SALESREPTHIRD"))
    elif declared and not salesrep_type_code:
        SalesRepLink._meta.remove_field("type_code")
