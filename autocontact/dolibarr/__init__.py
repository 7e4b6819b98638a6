"""The data model: peewee over Dolibarr's tables, the document-type registry, the schema."""
