"""Find text a user would read that is not marked for translation.

Templates: literal text between tags, user-visible attributes (title, placeholder,
aria-label, alt, value of buttons, hx-confirm) and string literals in Jinja
expressions that contain a word with a capital or a space, outside ``_()``,
``gettext()``, ``ngettext()`` and ``{% trans %}`` blocks.
Python: string literals (or f-strings) given directly to the functions that carry
messages to users.

Run as a script to list every finding: ``python tests/i18n_check.py``.
"""
import ast
import html
import re
import sys
from pathlib import Path

from jinja2 import Environment

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"

WORD = re.compile(r"[A-Za-z]{2,}")
TAG = re.compile(r"<[^>]*>?|^[^<]*>", re.S)
VISIBLE = {"title", "placeholder", "aria-label", "alt", "hx-confirm", "data-confirm",
           "aria-valuetext", "data-label"}
# Names that are the same in every language.
ALLOWED = {"autocontact", "Dolibarr", "LDAP", "CSV", "JSON", "API", "htmx"}
MARKERS = {"_", "gettext", "ngettext", "pgettext", "lazy_gettext"}
# Jinja string literals that are code, not text (filters' arguments, formats).
CODE_STRING = re.compile(r'^[a-z0-9_.:/#%{},()=" -]*$|^[A-Z_]+$|^\W*$')


def template_findings(path):
    source = path.read_text(encoding="utf-8")
    env = Environment(extensions=["jinja2.ext.i18n"])
    findings = []
    in_trans = 0
    markup = _Markup()
    previous = []  # the last significant tokens, to see _( before a string
    depth, marker_depths = 0, []
    for lineno, kind, value in env.lex(source):
        if kind == "name" and value == "trans" and previous[-1:] == [("block_begin", "{%")]:
            in_trans += 1
        elif kind == "name" and value == "endtrans":
            in_trans -= 1
        elif in_trans:
            pass
        elif kind == "data":
            findings += [(lineno, text) for text in markup.feed(value)]
        elif kind == "operator" and value == "(":
            depth += 1
            if previous[-1:] and previous[-1][0] == "name" and previous[-1][1] in MARKERS:
                marker_depths.append(depth)
        elif kind == "operator" and value == ")":
            if marker_depths and marker_depths[-1] == depth:
                marker_depths.pop()
            depth -= 1
        elif kind == "string":
            text = value[1:-1]
            # Inside _( ), ngettext( ) ... at the call's own level: its messages.
            marked = bool(marker_depths) and marker_depths[-1] == depth
            if not marked and WORD.search(text) and not CODE_STRING.match(text):
                findings.append((lineno, text))
        if kind != "whitespace":
            previous = (previous + [(kind, value)])[-3:]
    return findings


class _Markup:
    """Follows HTML across Jinja's data chunks: text between tags, and the values
    of the attributes a user reads (an expression may interrupt either)."""

    def __init__(self):
        self.in_tag = False
        self.quote = None
        self.attribute = ""
        self.name = ""

    def feed(self, data):
        texts, text, value = [], [], []
        for char in data:
            if not self.in_tag:
                if char == "<":
                    self.in_tag, self.name = True, ""
                    texts.append("".join(text))
                    text = []
                else:
                    text.append(char)
            elif self.quote:
                if char == self.quote:
                    if self.attribute.lower() in VISIBLE:
                        texts.append("".join(value))
                    self.quote, value = None, []
                else:
                    value.append(char)
            elif char in "\"'":
                self.quote, self.attribute = char, self.name.strip().rstrip("=").strip()
            elif char == ">":
                self.in_tag = False
            elif char in " \n\t":
                self.name = "" if not self.name.endswith("=") else self.name
            else:
                self.name += char
        texts.append("".join(text))
        if self.quote and self.attribute.lower() in VISIBLE:
            texts.append("".join(value))
        result = []
        for chunk in texts:
            chunk = html.unescape(chunk).strip()
            if WORD.search(chunk) and chunk not in ALLOWED:
                result.append(" ".join(chunk.split()))
        return result


def all_template_findings():
    result = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        findings = template_findings(path)
        if findings:
            result[str(path.relative_to(ROOT))] = findings
    return result


# Calls whose argument (by position) reaches a user as a message.
MESSAGE_CALLS = {"InvalidRequest": 0, "error_response": 1, "flash": 0, "PermissionDenied": 1,
                 "UndoRefused": 0, "LoginRefused": 0, "FilterInvalid": 1, "SettingsInvalid": 0,
                 "error_page": 1}
# Dictionaries of field errors shown next to form fields.
MESSAGE_DICTS = {"errors"}


def _is_text(node):
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(WORD.search(node.value)))


def python_findings(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            position = MESSAGE_CALLS.get(name)
            if position is not None and len(node.args) > position and _is_text(node.args[position]):
                findings.append((node.lineno, ast.unparse(node.args[position])[:80]))
        elif isinstance(node, ast.Assign) and _is_text(node.value):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and getattr(target.value, "id", None) in MESSAGE_DICTS:
                    findings.append((node.lineno, ast.unparse(node.value)[:80]))
    return findings


def all_python_findings():
    result = {}
    for path in sorted((ROOT / "autocontact").rglob("*.py")):
        findings = python_findings(path)
        if findings:
            result[str(path.relative_to(ROOT))] = findings
    return result


if __name__ == "__main__":
    total = 0
    for group in (all_template_findings(), all_python_findings()):
        for name, findings in group.items():
            for lineno, text in findings:
                total += 1
                print(f"{name}:{lineno}: {text!r}")
    print(f"{total} unmarked strings", file=sys.stderr)


def english_words():
    """Words of the English messages that no Italian translation uses: seeing one on an
    Italian screen means English was left there."""
    from babel.messages.pofile import read_po
    with open(ROOT / "translations" / "it" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    english, italian = set(), set()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text, words in ((" ".join(ids), english), (" ".join(strings), italian)):
            text = re.sub(r"%\(\w+\)[sd]|<[^>]+>", " ", text)
            words.update(word.lower() for word in re.findall(r"[A-Za-z]{3,}", text))
    return english - italian - {word.lower() for word in ALLOWED}


def english_left(text, words=None):
    """The English words found in a screen's text (sorted)."""
    words = english_words() if words is None else words
    return sorted({word for word in re.findall(r"[A-Za-z]{3,}", text) if word.lower() in words})
