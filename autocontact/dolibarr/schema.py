"""What the connected Dolibarr database looks like.

Detection runs once at start-up: it checks that the prefix names Dolibarr's
tables and records the columns that differ between Dolibarr versions, so
that services write what that version expects.
"""
from dataclasses import dataclass, field

from . import models

REQUIRED_TABLES = tuple(model._meta.dolibarr_table for model in models.DOLIBARR_MODELS)


class SchemaError(Exception):
    """The database is not a Dolibarr database with the configured prefix."""


@dataclass
class SchemaInfo:
    prefix: str
    tables_found: list
    tables_missing: list
    salesrep_type_code: bool          # societe_commerciaux.fk_c_type_contact_code (Dolibarr >= 20)
    element_contact_signature: bool   # element_contact.mandatory_signature (Dolibarr >= 23)
    dolibarr_version: str | None
    notes: list = field(default_factory=list)

    @property
    def variant(self):
        if self.element_contact_signature:
            return "dolibarr-23+"
        if self.salesrep_type_code:
            return "dolibarr-20+"
        return "dolibarr-pre-20"

    def as_dict(self):
        return {
            "prefix": self.prefix,
            "variant": self.variant,
            "dolibarr_version": self.dolibarr_version,
            "salesrep_type_code": self.salesrep_type_code,
            "element_contact_signature": self.element_contact_signature,
            "tables_found": len(self.tables_found),
            "tables_missing": self.tables_missing,
        }


def _columns(database, table):
    return {column.name for column in database.get_columns(table)}


def detect(database, prefix):
    """Inspect the live database; raise SchemaError if Dolibarr is not there."""
    existing = {name.lower() for name in database.get_tables()}
    found = [name for name in REQUIRED_TABLES if (prefix + name).lower() in existing]
    missing = [name for name in REQUIRED_TABLES if name not in found]
    core = {"societe", "societe_commerciaux", "user", "element_contact", "c_type_contact", "const"}
    if core - set(found):
        others = sorted(name[: -len("societe")] for name in existing if name.endswith("societe"))
        hint = f" (prefixes seen: {', '.join(others)})" if others else ""
        raise SchemaError(
            f"no Dolibarr tables with prefix '{prefix}': missing "
            f"{', '.join(prefix + name for name in sorted(core - set(found)))}{hint}"
        )
    salesrep_columns = _columns(database, prefix + "societe_commerciaux")
    contact_columns = _columns(database, prefix + "element_contact")
    version = (
        models.Constant.select(models.Constant.value)
        .where(models.Constant.name == "MAIN_VERSION_LAST_UPGRADE")
        .order_by(models.Constant.entity.desc())
        .scalar()
    )
    return SchemaInfo(
        prefix=prefix,
        tables_found=found,
        tables_missing=missing,
        salesrep_type_code="fk_c_type_contact_code" in salesrep_columns,
        element_contact_signature="mandatory_signature" in contact_columns,
        dolibarr_version=version,
    )
