"""The registry of Dolibarr document types autocontact works on.

Each entry says where a type lives and how to read it. Every other part of
the tool (models, services, screens, API) goes through this registry, so
adding a type is one entry here.
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class DocType:
    element: str                 # llx_c_type_contact.element, also the API key
    label: str                   # lazily translated: shown in the reader's language
    table: str                   # without prefix
    date_column: str | None      # the document's own date; None = has none
    status_column: str
    statuses: dict               # value -> meaning (lazily translated)
    closed_statuses: tuple       # default "leave alone" set for the open-only scope
    default_contact_code: str    # internal contact type used for follow-up
    module: str                  # MAIN_MODULE_<module> enables it in Dolibarr
    module_label: str            # the module's name on Dolibarr's Modules/Applications page
    card_path: str               # Dolibarr card, formatted with the document id
    ref_column: str = "ref"
    thirdparty_column: str = "fk_soc"
    entity_column: str = "entity"
    creation_date_column: str = "datec"
    label_column: str | None = None  # a title worth showing beside the ref
    extra_status_columns: tuple = field(default=())

    @property
    def contact_element(self):
        return self.element

    @property
    def module_constant(self):
        """The llx_const name that says whether Dolibarr's module of this type is on."""
        return f"MAIN_MODULE_{self.module}"


DOC_TYPES = (
    DocType(
        element="propal", label=_l("Proposal"), table="propal", date_column="datep",
        status_column="fk_statut",
        statuses={0: _l("Draft"), 1: _l("Validated"), 2: _l("Signed"), 3: _l("Not signed"),
                  4: _l("Billed")},
        closed_statuses=(2, 3, 4), default_contact_code="SALESREPFOLL",
        module="PROPALE", module_label=_l("Commercial proposals"),
        card_path="/comm/propal/card.php?id={id}",
    ),
    DocType(
        element="commande", label=_l("Customer order"), table="commande",
        creation_date_column="date_creation",
        date_column="date_commande", status_column="fk_statut",
        statuses={-1: _l("Canceled"), 0: _l("Draft"), 1: _l("Validated"),
                  2: _l("Shipment in progress"), 3: _l("Closed")},
        closed_statuses=(-1, 3), default_contact_code="SALESREPFOLL",
        module="COMMANDE", module_label=_l("Sales orders"),
        card_path="/commande/card.php?id={id}",
    ),
    DocType(
        element="facture", label=_l("Customer invoice"), table="facture", date_column="datef",
        status_column="fk_statut",
        statuses={0: _l("Draft"), 1: _l("Unpaid"), 2: _l("Paid"), 3: _l("Abandoned")},
        closed_statuses=(2, 3), default_contact_code="SALESREPFOLL",
        module="FACTURE", module_label=_l("Invoices"),
        card_path="/compta/facture/card.php?facid={id}",
        extra_status_columns=("paye", "type"),
    ),
    DocType(
        element="order_supplier", label=_l("Supplier order"), table="commande_fournisseur",
        creation_date_column="date_creation",
        date_column="date_commande", status_column="fk_statut",
        statuses={0: _l("Draft"), 1: _l("Validated"), 2: _l("Approved"), 3: _l("Ordered"),
                  4: _l("Partly received"), 5: _l("Received"), 6: _l("Canceled"),
                  7: _l("Canceled after order"), 9: _l("Refused")},
        closed_statuses=(5, 6, 7, 9), default_contact_code="SALESREPFOLL",
        module="FOURNISSEUR", module_label=_l("Vendors"),
        card_path="/fourn/commande/card.php?id={id}",
        extra_status_columns=("billed",),
    ),
    DocType(
        element="invoice_supplier", label=_l("Supplier invoice"), table="facture_fourn",
        date_column="datef", status_column="fk_statut",
        statuses={0: _l("Draft"), 1: _l("Unpaid"), 2: _l("Paid"), 3: _l("Abandoned")},
        closed_statuses=(2, 3), default_contact_code="SALESREPFOLL",
        module="FOURNISSEUR", module_label=_l("Vendors"),
        card_path="/fourn/facture/card.php?facid={id}",
        extra_status_columns=("paye",),
    ),
    DocType(
        element="supplier_proposal", label=_l("Supplier proposal"), table="supplier_proposal",
        date_column=None, status_column="fk_statut",
        statuses={0: _l("Draft"), 1: _l("Validated"), 2: _l("Signed"), 3: _l("Not signed"),
                  4: _l("Closed")},
        closed_statuses=(2, 3, 4), default_contact_code="SALESREPFOLL",
        module="SUPPLIERPROPOSAL", module_label=_l("Vendor commercial proposals"),
        card_path="/supplier_proposal/card.php?id={id}",
    ),
    DocType(
        element="contrat", label=_l("Contract"), table="contrat", date_column="date_contrat",
        status_column="statut",
        statuses={0: _l("Draft"), 1: _l("Validated"), 2: _l("Closed")},
        closed_statuses=(2,), default_contact_code="SALESREPFOLL",
        module="CONTRAT", module_label=_l("Contracts/Subscriptions"),
        card_path="/contrat/card.php?id={id}",
    ),
    DocType(
        element="fichinter", label=_l("Intervention"), table="fichinter", date_column="datei",
        status_column="fk_statut",
        statuses={0: _l("Draft"), 1: _l("Validated"), 2: _l("Billed"), 3: _l("Closed")},
        closed_statuses=(2, 3), default_contact_code="INTERREPFOLL",
        module="FICHEINTER", module_label=_l("Interventions"),
        card_path="/fichinter/card.php?id={id}",
    ),
    DocType(
        element="shipping", label=_l("Shipment"), table="expedition",
        creation_date_column="date_creation",
        date_column="date_expedition", status_column="fk_statut",
        statuses={-1: _l("Canceled"), 0: _l("Draft"), 1: _l("Validated"), 2: _l("Closed"),
                  3: _l("In progress")},
        closed_statuses=(-1, 2), default_contact_code="SALESREPFOLL",
        module="EXPEDITION", module_label=_l("Shipments"),
        card_path="/expedition/card.php?id={id}",
        extra_status_columns=("billed",),
    ),
    DocType(
        element="project", label=_l("Project"), table="projet", date_column="dateo",
        status_column="fk_statut",
        statuses={0: _l("Draft"), 1: _l("Open"), 2: _l("Closed")},
        closed_statuses=(2,), default_contact_code="PROJECTLEADER",
        module="PROJET", module_label=_l("Projects"),
        card_path="/projet/card.php?id={id}", label_column="title",
    ),
)

BY_ELEMENT = {doc_type.element: doc_type for doc_type in DOC_TYPES}


def get(element):
    """Return the DocType for an element name, or None."""
    return BY_ELEMENT.get(element)
