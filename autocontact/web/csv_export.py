"""CSV downloads of the screens' tables (journal, report, portfolio).

Text cells that a spreadsheet would run as a formula are neutralised (CSV
injection); numbers are written as numbers.
"""
import csv
import io

from flask import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A cell's text; text starting like a formula is prefixed with a quote."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def csv_response(filename, header, rows):
    """A CSV attachment: the header row, then ``rows`` (iterables of cells)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(value) for value in row])
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
