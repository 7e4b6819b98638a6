"""The registry of Dolibarr document types autocontact works on.

Each entry says where a type lives and how to read it. Every other part of
the tool (models, services, screens, API) goes through this registry, so
adding a type is one entry here.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DocType:
    element: str                 # llx_c_type_contact.element, also the API key
    label: str
    table: str                   # without prefix
    date_column: str | None      # the document's own date; None = has none
    status_column: str
    statuses: dict               # value -> meaning
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
        element="propal", label="Proposal", table="propal", date_column="datep",
        status_column="fk_statut",
        statuses={0: "Draft", 1: "Validated", 2: "Signed", 3: "Not signed", 4: "Billed"},
        closed_statuses=(2, 3, 4), default_contact_code="SALESREPFOLL",
        module="PROPALE", module_label="Commercial proposals",
        card_path="/comm/propal/card.php?id={id}",
    ),
    DocType(
        element="commande", label="Customer order", table="commande",
        creation_date_column="date_creation",
        date_column="date_commande", status_column="fk_statut",
        statuses={-1: "Canceled", 0: "Draft", 1: "Validated", 2: "Shipment in progress", 3: "Closed"},
        closed_statuses=(-1, 3), default_contact_code="SALESREPFOLL",
        module="COMMANDE", module_label="Sales orders",
        card_path="/commande/card.php?id={id}",
    ),
    DocType(
        element="facture", label="Customer invoice", table="facture", date_column="datef",
        status_column="fk_statut",
        statuses={0: "Draft", 1: "Unpaid", 2: "Paid", 3: "Abandoned"},
        closed_statuses=(2, 3), default_contact_code="SALESREPFOLL",
        module="FACTURE", module_label="Invoices",
        card_path="/compta/facture/card.php?facid={id}",
        extra_status_columns=("paye", "type"),
    ),
    DocType(
        element="order_supplier", label="Supplier order", table="commande_fournisseur",
        creation_date_column="date_creation",
        date_column="date_commande", status_column="fk_statut",
        statuses={0: "Draft", 1: "Validated", 2: "Approved", 3: "Ordered", 4: "Partly received",
                  5: "Received", 6: "Canceled", 7: "Canceled after order", 9: "Refused"},
        closed_statuses=(5, 6, 7, 9), default_contact_code="SALESREPFOLL",
        module="FOURNISSEUR", module_label="Vendors",
        card_path="/fourn/commande/card.php?id={id}",
        extra_status_columns=("billed",),
    ),
    DocType(
        element="invoice_supplier", label="Supplier invoice", table="facture_fourn",
        date_column="datef", status_column="fk_statut",
        statuses={0: "Draft", 1: "Unpaid", 2: "Paid", 3: "Abandoned"},
        closed_statuses=(2, 3), default_contact_code="SALESREPFOLL",
        module="FOURNISSEUR", module_label="Vendors",
        card_path="/fourn/facture/card.php?facid={id}",
        extra_status_columns=("paye",),
    ),
    DocType(
        element="supplier_proposal", label="Supplier proposal", table="supplier_proposal",
        date_column=None, status_column="fk_statut",
        statuses={0: "Draft", 1: "Validated", 2: "Signed", 3: "Not signed", 4: "Closed"},
        closed_statuses=(2, 3, 4), default_contact_code="SALESREPFOLL",
        module="SUPPLIERPROPOSAL", module_label="Vendor commercial proposals",
        card_path="/supplier_proposal/card.php?id={id}",
    ),
    DocType(
        element="contrat", label="Contract", table="contrat", date_column="date_contrat",
        status_column="statut",
        statuses={0: "Draft", 1: "Validated", 2: "Closed"},
        closed_statuses=(2,), default_contact_code="SALESREPFOLL",
        module="CONTRAT", module_label="Contracts/Subscriptions",
        card_path="/contrat/card.php?id={id}",
    ),
    DocType(
        element="fichinter", label="Intervention", table="fichinter", date_column="datei",
        status_column="fk_statut",
        statuses={0: "Draft", 1: "Validated", 2: "Billed", 3: "Closed"},
        closed_statuses=(2, 3), default_contact_code="INTERREPFOLL",
        module="FICHEINTER", module_label="Interventions",
        card_path="/fichinter/card.php?id={id}",
    ),
    DocType(
        element="shipping", label="Shipment", table="expedition",
        creation_date_column="date_creation",
        date_column="date_expedition", status_column="fk_statut",
        statuses={-1: "Canceled", 0: "Draft", 1: "Validated", 2: "Closed", 3: "In progress"},
        closed_statuses=(-1, 2), default_contact_code="SALESREPFOLL",
        module="EXPEDITION", module_label="Shipments",
        card_path="/expedition/card.php?id={id}",
        extra_status_columns=("billed",),
    ),
    DocType(
        element="project", label="Project", table="projet", date_column="dateo",
        status_column="fk_statut",
        statuses={0: "Draft", 1: "Open", 2: "Closed"},
        closed_statuses=(2,), default_contact_code="PROJECTLEADER",
        module="PROJET", module_label="Projects",
        card_path="/projet/card.php?id={id}", label_column="title",
    ),
)

BY_ELEMENT = {doc_type.element: doc_type for doc_type in DOC_TYPES}


def get(element):
    """Return the DocType for an element name, or None."""
    return BY_ELEMENT.get(element)
