"""CSV downloads of the screens' tables (journal, report, portfolio).

Text cells that a spreadsheet would run as a formula are neutralised (CSV
injection); numbers are written as numbers, dates in ISO form. The header row
is in the reader's language: the views name their columns with the codes of
HEADERS (the English header is the code itself); columns named by a Dolibarr
identifier keep it in English and get its name in other languages.
"""
import csv
import io

from flask import Response
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from ..dolibarr import doctypes

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# The columns of every CSV download, by code (English: the code itself).
HEADERS = {
    # journal
    "batch": _l("batch"), "when": _l("when"), "user": _l("user"), "action": _l("action"),
    "summary": _l("summary"), "state": _l("state"), "undo_of": _l("undo_of"),
    "links_added": _l("links_added"), "links_removed": _l("links_removed"),
    "documents_changed": _l("documents_changed"), "contacts_added": _l("contacts_added"),
    "contacts_removed": _l("contacts_removed"), "kind": _l("kind"), "change": _l("change"),
    "element": _l("element"), "document_id": _l("document_id"), "document": _l("document"),
    "row_id": _l("row_id"), "before": _l("before"), "after": _l("after"),
    # report and portfolio
    "figure": _l("figure"), "thirdparties": _l("thirdparties"), "user_id": _l("user_id"),
    "login": _l("login"), "name": _l("name"), "doc_type": _l("doc_type"), "label": _l("label"),
    "contact_type": _l("contact_type"), "documents": _l("documents"),
    "not_matching": _l("not_matching"), "inactive_follow_up": _l("inactive_follow_up"),
    "without_follow_up": _l("without_follow_up"),
    "thirdparty_without_active_rep": _l("thirdparty_without_active_rep"),
    "without_thirdparty": _l("without_thirdparty"), "month": _l("month"),
    "sales_reps": _l("sales_reps"), "active": _l("active"), "thirdparty_id": _l("thirdparty_id"),
    "thirdparty": _l("thirdparty"), "name_alias": _l("name_alias"),
    "town": _l("town"), "status": _l("status"), "kinds": _l("kinds"), "co_reps": _l("co_reps"),
    "status_label": _l("status_label"), "id": _l("id"), "ref": _l("ref"), "date": _l("date"),
    "represented": _l("represented"),
    # the lines of the report's thirdparty figures (services.reports.thirdparty_figures)
    "total": _l("total"), "without_sales_rep": _l("without_sales_rep"),
    "only_inactive_sales_reps": _l("only_inactive_sales_reps"),
}
# Columns named by a Dolibarr identifier (a field of llx_societe, a document type's
# element): English keeps the identifier, other languages get its name.
DOLIBARR_NAMES = {"code_client": _l("Customer code"), "code_fournisseur": _l("Supplier code")}


def column_name(code):
    """A column's (or a figure's) name in the reader's language; an unknown code as it is."""
    if code in HEADERS:
        return str(HEADERS[code])
    name = DOLIBARR_NAMES.get(code)
    if name is None and isinstance(code, str) and doctypes.get(code) is not None:
        name = doctypes.get(code).label
    if name is None or get_locale() is None or get_locale().language == "en":
        return str(code)
    return str(name).lower()


def csv_safe(value):
    """A cell's text; text starting like a formula is prefixed with a quote."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def csv_response(filename, header, rows):
    """A CSV attachment: the header row (codes of HEADERS, written in the reader's
    language), then ``rows`` (iterables of cells)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column_name(code) for code in header])
    for row in rows:
        writer.writerow([csv_safe(value) for value in row])
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
