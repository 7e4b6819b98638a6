"""Read Dolibarr's ``conf.php`` as text.

Only simple assignments of the form ``$name = 'value';`` (single or double
quoted strings, numbers, booleans) are understood. PHP is never executed:
an expression we cannot read is ignored, which leaves the default in place.
"""
import re

_ASSIGNMENT = re.compile(
    r"""^\s*\$(dolibarr_\w+)\s*=\s*
        (?: '((?:[^'\\]|\\.)*)'          # single-quoted string
          | "((?:[^"\\]|\\.)*)"          # double-quoted string
          | (-?\d+)                      # integer
          | (true|false|null)            # constants
        )\s*;""",
    re.X | re.M | re.I,
)
_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$"}


class ConfPhpError(Exception):
    """conf.php is missing or unreadable."""


def _unquote_single(text):
    return re.sub(r"\\([\\'])", r"\1", text)


def _unquote_double(text):
    return re.sub(r"\\(.)", lambda m: _DOUBLE_ESCAPES.get(m.group(1), m.group(0)), text)


def parse_conf_php(text):
    """Return the ``$dolibarr_*`` assignments of a conf.php text as a dict.

    Later assignments win, as they would when PHP runs the file. Commented-out
    lines (``//`` or ``#``) never match because of the anchored ``$``.
    """
    values = {}
    for name, single, double, number, constant in _ASSIGNMENT.findall(text):
        if double:
            value = _unquote_double(double)
        elif number:
            value = int(number)
        elif constant:
            value = {"true": True, "false": False, "null": None}[constant.lower()]
        else:
            value = _unquote_single(single)
        values[name.lower()] = value
    return values


def read_conf_php(path):
    """Parse the conf.php at ``path``; raise ConfPhpError with a readable reason."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as error:
        raise ConfPhpError(f"cannot read Dolibarr conf.php at {path}: {error.strerror}") from None
    values = parse_conf_php(text)
    if not values:
        raise ConfPhpError(f"{path} holds no $dolibarr_ settings: is it Dolibarr's conf.php?")
    return values
