"""A believable Dolibarr company for demos and tests.

:func:`populate` fills tables created by :func:`ddl.create_dolibarr_tables`
with "Alpenlegno Forniture S.p.A.", an Italian office-furniture distributor:
users and groups, ~320 thirdparties with their sales representatives,
Dolibarr's contact-type dictionary and ~5,800 documents of every type in
:mod:`doctypes` with their follow-up contacts.

The follow-up contacts tell a story the tool is meant to fix: two sales reps
left the company (their users are disabled), accounts were reshuffled, and
documents created before each change still name the previous rep. About one
document in eight therefore disagrees with its thirdparty's current reps.
:data:`DEMO_SCENARIO` is the hand-made case shown in the README.

Everything except the bcrypt salts is deterministic for a given ``today``.
"""
import csv
import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import bcrypt
from flask_babel import lazy_gettext as _l
from peewee import Table

from . import doctypes

DEMO_PASSWORD = "demo"
COMPANY_NAME = "Alpenlegno Forniture S.p.A."
OTHER_COMPANY_NAME = "Alpenlegno Suisse SA"

_SEED = 20240917
_TYPE_CONTACTS_CSV = Path(__file__).with_name("sql") / "c_type_contact.csv"
_MAIL_DOMAIN = "alpenlegno.it"
_HISTORY_DAYS = 3 * 365
_RECENT_DAYS = 90

# Days before `today` of the events that changed who follows which account.
_GRECO_LEFT = 420
_RESHUFFLE = 300
_MARINO_JOINED = 230
_BRUNO_LEFT = 200
_SCENARIO_SWITCH = 12


@dataclass(frozen=True)
class _UserSpec:
    login: str
    firstname: str | None
    lastname: str
    job: str
    lang: str | None = None
    groups: tuple = ()
    active: bool = True
    admin: bool = False
    entity: str = "main"        # "main", "all" (0, superadmin) or "other"
    external: bool = False
    hired_days_ago: int = 2900


_USERS = (
    _UserSpec("admin", None, "SuperAdmin", "Dolibarr administrator",
              groups=("Administrators",), admin=True, entity="all", hired_days_ago=3300),
    _UserSpec("mbianchi", "Marco", "Bianchi", "Sales manager", "it_IT",
              groups=("Sales management", "Sales")),
    _UserSpec("acolombo", "Andrea", "Colombo", "Sales representative", "it_IT", groups=("Sales",)),
    _UserSpec("gferrari", "Giulia", "Ferrari", "Sales representative", "it_IT", groups=("Sales",)),
    _UserSpec("sromano", "Sara", "Romano", "Sales representative", groups=("Sales",)),
    _UserSpec("lricci", "Luca", "Ricci", "Sales representative", groups=("Sales",)),
    _UserSpec("ebrown", "Emily", "Brown", "Export sales representative", "en_US",
              groups=("Sales",)),
    _UserSpec("fgallo", "Francesca", "Gallo", "Sales representative", groups=("Sales",)),
    _UserSpec("dmarino", "Davide", "Marino", "Sales representative", "it_IT",
              groups=("Sales",), hired_days_ago=_MARINO_JOINED),
    _UserSpec("tkeller", "Thomas", "Keller", "Export sales representative", "en_US",
              groups=("Sales",)),
    _UserSpec("ngiordano", "Nicola", "Giordano", "Purchasing"),
    _UserSpec("lfontana", "Laura", "Fontana", "Purchasing", "it_IT"),
    _UserSpec("cconti", "Chiara", "Conti", "Accountant", groups=("Accounting",)),
    _UserSpec("pmoretti", "Paolo", "Moretti", "Project and service manager"),
    _UserSpec("rgreco", "Roberto", "Greco", "Sales representative (left)",
              groups=("Sales",), active=False),
    _UserSpec("vbruno", "Valentina", "Bruno", "Sales representative (left)", "it_IT",
              groups=("Sales",), active=False),
    _UserSpec("jsmith", "James", "Smith", "Accounting intern (left)", "en_US",
              groups=("Accounting",), active=False),
    _UserSpec("mverdi", "Mario", "Verdi", "Customer portal", external=True),
    _UserSpec("kweber", "Katrin", "Weber", "Sales representative", entity="other"),
)
_USER_ID = {spec.login: index for index, spec in enumerate(_USERS, start=1)}
_NAMES = {spec.login: " ".join(filter(None, (spec.firstname, spec.lastname))) for spec in _USERS}

_GROUPS = (
    ("Administrators", "Full access to Dolibarr"),
    ("Sales management", "Sales managers: assign representatives to accounts"),
    ("Sales", "Sales representatives"),
    ("Accounting", "Invoices and payments, read-only on the sales pipeline"),
)

_SALES_IT = {"mbianchi": 0.4, "acolombo": 1.0, "gferrari": 1.0, "sromano": 1.0, "lricci": 1.0,
             "fgallo": 1.0, "dmarino": 0.6, "rgreco": 0.55, "vbruno": 0.5}
_SALES_EXPORT = {"ebrown": 1.0, "tkeller": 1.0, "mbianchi": 0.3}
_BUYERS = {"ngiordano": 0.6, "lfontana": 0.3}
_ACTIVE_SALES = ("mbianchi", "acolombo", "gferrari", "sromano", "lricci", "fgallo", "dmarino",
                 "ebrown", "tkeller")

_SCENARIO_SOCID = 17
_SCENARIO_NAME = "Rossi Arredamenti S.r.l."
_PORTAL_SOCID = 23
_PORTAL_NAME = "Verdi Costruzioni S.r.l."

DEMO_LOGINS = [
    {"login": "admin", "name": _NAMES["admin"],
     "role_hint": _l("Dolibarr superadmin (entity 0): editor and manager")},
    {"login": "mbianchi", "name": _NAMES["mbianchi"],
     "role_hint": _l("Sales manager (group Sales management): an editor once setup names that group")},
    {"login": "gferrari", "name": _NAMES["gferrari"],
     "role_hint": _l("Sales representative (group Sales)")},
    {"login": "acolombo", "name": _NAMES["acolombo"],
     "role_hint": _l("Sales representative, previous rep of %(name)s", name=_SCENARIO_NAME)},
    {"login": "cconti", "name": _NAMES["cconti"],
     "role_hint": _l("Accountant (group Accounting): viewer")},
    {"login": "rgreco", "name": _NAMES["rgreco"],
     "role_hint": _l("Former sales rep, disabled: login refused")},
    {"login": "mverdi", "name": _NAMES["mverdi"],
     "role_hint": _l("External user of %(name)s: login refused", name=_PORTAL_NAME)},
]

DEMO_SCENARIO = {
    "thirdparty_rowid": _SCENARIO_SOCID,
    "thirdparty_name": _SCENARIO_NAME,
    "from_login": "acolombo",
    "from_name": _NAMES["acolombo"],
    "to_login": "gferrari",
    "to_name": _NAMES["gferrari"],
    "elements": ("propal", "commande", "facture"),
    "summary": (
        f"{_SCENARIO_NAME} moved from {_NAMES['acolombo']} to {_NAMES['gferrari']} "
        f"{_SCENARIO_SWITCH} days ago, but every proposal, order and invoice of the "
        f"last two years (and the older ones) still has {_NAMES['acolombo']} as "
        "sales representative following up."
    ),
}

# Documents of the scenario thirdparty: (element, days ago, status).
_SCENARIO_DOCS = (
    ("propal", 1000, 3), ("propal", 900, 4), ("propal", 700, 4), ("propal", 640, 4),
    ("propal", 580, 3), ("propal", 520, 4), ("propal", 450, 2), ("propal", 380, 4),
    ("propal", 300, 3), ("propal", 220, 4), ("propal", 150, 2), ("propal", 90, 1),
    ("propal", 45, 1), ("propal", 20, 0),
    ("commande", 890, 3), ("commande", 630, 3), ("commande", 510, 3), ("commande", 370, 3),
    ("commande", 210, 3), ("commande", 140, 2), ("commande", 80, 1), ("commande", 30, 0),
    ("facture", 990, 2), ("facture", 880, 2), ("facture", 620, 2), ("facture", 500, 2),
    ("facture", 360, 2), ("facture", 200, 2), ("facture", 130, 2), ("facture", 70, 1),
    ("facture", 40, 1), ("facture", 18, 0),
)


@dataclass(frozen=True)
class _DocSpec:
    prefix: str
    count: int
    parties: str                  # "customers", "prospects" (customers too) or "suppliers"
    creation_column: str
    recent: dict                  # status -> weight, documents younger than _RECENT_DAYS
    old: dict
    other_entity_count: int = 0


_DOC_SPECS = {
    "propal": _DocSpec("PR", 1300, "prospects", "datec",
                       {0: 25, 1: 45, 2: 15, 3: 5, 4: 10}, {0: 2, 1: 6, 2: 15, 3: 27, 4: 50}, 8),
    "commande": _DocSpec("CO", 900, "customers", "date_creation",
                         {-1: 4, 0: 15, 1: 35, 2: 26, 3: 20}, {-1: 5, 0: 1, 1: 3, 2: 4, 3: 87}, 5),
    "facture": _DocSpec("FA", 1500, "customers", "datec",
                        {0: 10, 1: 60, 2: 28, 3: 2}, {0: 1, 1: 6, 2: 90, 3: 3}, 10),
    "order_supplier": _DocSpec("CF", 350, "suppliers", "date_creation",
                               {0: 15, 1: 10, 2: 15, 3: 30, 4: 15, 5: 10, 6: 3, 9: 2},
                               {0: 1, 1: 1, 2: 1, 3: 3, 4: 3, 5: 80, 6: 6, 7: 2, 9: 3}),
    "invoice_supplier": _DocSpec("SI", 500, "suppliers", "datec",
                                 {0: 10, 1: 60, 2: 28, 3: 2}, {0: 1, 1: 5, 2: 92, 3: 2}),
    "supplier_proposal": _DocSpec("SPR", 120, "suppliers", "datec",
                                  {0: 20, 1: 50, 2: 15, 3: 10, 4: 5},
                                  {1: 5, 2: 30, 3: 30, 4: 35}),
    "contrat": _DocSpec("CT", 150, "customers", "datec", {0: 20, 1: 80}, {0: 2, 1: 68, 2: 30}),
    "fichinter": _DocSpec("FI", 250, "customers", "datec",
                          {0: 20, 1: 40, 2: 20, 3: 20}, {1: 5, 2: 50, 3: 45}),
    "shipping": _DocSpec("SH", 500, "customers", "date_creation",
                         {-1: 3, 0: 10, 1: 50, 2: 27, 3: 10}, {-1: 4, 1: 4, 2: 92}),
    "project": _DocSpec("PJ", 150, "customers", "datec", {0: 30, 1: 70}, {0: 3, 1: 52, 2: 45}),
}

# Other roles on documents, which the tool must leave alone.
_EXTERNAL_ROLES = {"propal": ("CUSTOMER", 0.2), "commande": ("CUSTOMER", 0.1),
                   "facture": ("BILLING", 0.15)}

# --- names ---------------------------------------------------------------------

_SURNAMES_IT = (
    "Russo", "Esposito", "Romano", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti",
    "Barbieri", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone",
    "Longo", "Gentile", "Martinelli", "Vitale", "Lombardo", "Serra", "Coppola", "De Santis",
    "D'Angelo", "Marchetti", "Parisi", "Villa", "Conte", "Ferraro", "Ferri", "Fabbri", "Bianco",
    "Marini", "Grasso", "Valentini", "Messina", "Sala", "De Angelis", "Gatti", "Pellegrini",
    "Palumbo", "Sanna", "Farina", "Rizzi", "Monti", "Cattaneo", "Morelli", "Amato", "Silvestri",
    "Mazza", "Testa", "Grassi", "Carbone", "Giuliani", "Benedetti", "Barone", "Rossetti",
    "Caputo", "Montanari", "Guerra", "Palmieri", "Bernardi", "Fiore", "De Rosa", "Ferretti",
    "Bellini", "Basile", "Riva", "Donati", "Piras", "Vitali", "Battaglia", "Sartori", "Neri",
    "Costantini", "Milani", "Pagano", "Ruggiero", "Sorrentino", "D'Amico", "Orlando", "Negri",
)
_FIRSTNAMES_IT = (
    "Giuseppe", "Giovanni", "Antonio", "Mario", "Luigi", "Francesco", "Angelo", "Vincenzo",
    "Pietro", "Salvatore", "Carlo", "Franco", "Domenico", "Bruno", "Paola", "Anna", "Maria",
    "Elena", "Chiara", "Alessandra", "Federica", "Silvia", "Martina", "Valeria", "Simona",
    "Roberta", "Stefano", "Matteo", "Lorenzo", "Alberto", "Claudia", "Ilaria", "Giorgio",
)
_SECTORS_IT = (
    "Arredamenti", "Costruzioni", "Impianti", "Trasporti", "Alimentari", "Meccanica",
    "Serramenti", "Edilizia", "Ceramiche", "Tessuti", "Informatica", "Consulting", "Logistica",
    "Hotel", "Ristorazione", "Studio Tecnico", "Ottica", "Automazione", "Packaging",
    "Carpenteria", "Vetreria", "Grafica", "Marmi", "Termoidraulica", "Elettronica", "Immobiliare",
    "Dental Care", "Assicurazioni", "Scuola", "Farmaceutica",
)
_SUPPLY_IT = (
    "Legnami", "Ferramenta", "Vernici", "Tessuti", "Cristalli", "Trasporti", "Imballaggi",
    "Pannelli", "Metalli", "Componenti", "Minuteria", "Illuminazione", "Elettroforniture",
    "Laminati", "Imbottiti", "Sedute",
)
_IT_FORMS = (("S.r.l.", 55), ("S.p.A.", 10), ("S.n.c.", 12), ("S.a.s.", 10), ("S.r.l.s.", 8),
             ("", 5))
_FOREIGN = {
    "FR": (("Dubois", "Lefebvre", "Moreau", "Girard", "Fontaine", "Lambert", "Bonnet", "Roux"),
           ("Mobilier", "Bureautique", "Agencement", "Hôtellerie", "Distribution", "Design"),
           ("SARL", "SAS")),
    "DE": (("Müller", "Schneider", "Fischer", "Wagner", "Becker", "Hoffmann", "Schulz", "Koch"),
           ("Büromöbel", "Holztechnik", "Objekteinrichtung", "Handel", "Planung", "Design"),
           ("GmbH", "GmbH & Co. KG", "AG")),
    "CH": (("Meier", "Brunner", "Baumann", "Frei", "Gerber", "Keller", "Huber", "Zürcher"),
           ("Einrichtungen", "Büroplanung", "Immobilien", "Treuhand", "Hotels"),
           ("AG", "GmbH", "SA")),
    "GB": (("Hartley", "Whitmore", "Ashford", "Pemberton", "Caldwell", "Radcliffe", "Thornton"),
           ("Office Supplies", "Interiors", "Workspace", "Hospitality", "Contracts", "Design"),
           ("Ltd", "plc", "LLP")),
    "ES": (("García", "Martínez", "López", "Sánchez", "Navarro", "Romero", "Ortega", "Castillo"),
           ("Muebles", "Oficinas", "Interiorismo", "Hoteles", "Distribución"),
           ("S.L.", "S.A.")),
    "BE": (("Peeters", "Janssens", "Maes", "Claes", "Dupont", "Willems", "Mertens"),
           ("Office", "Interieur", "Bureau", "Projects"),
           ("SRL", "NV", "BV")),
}
_COUNTRIES = {  # code -> (llx_c_country.rowid, TLD, language, towns with zips)
    "IT": (3, "it", None, (
        ("Milano", "20121"), ("Torino", "10121"), ("Bergamo", "24121"), ("Brescia", "25121"),
        ("Verona", "37121"), ("Padova", "35121"), ("Bologna", "40121"), ("Firenze", "50121"),
        ("Roma", "00184"), ("Napoli", "80121"), ("Bari", "70121"), ("Genova", "16121"),
        ("Venezia", "30121"), ("Treviso", "31100"), ("Vicenza", "36100"), ("Udine", "33100"),
        ("Trento", "38122"), ("Bolzano", "39100"), ("Modena", "41121"), ("Parma", "43121"),
        ("Monza", "20900"), ("Como", "22100"), ("Varese", "21100"), ("Lecco", "23900"),
        ("Pavia", "27100"), ("Cremona", "26100"), ("Mantova", "46100"), ("Piacenza", "29121"),
        ("Rimini", "47921"), ("Ancona", "60121"), ("Perugia", "06121"), ("Pisa", "56121"),
        ("Lucca", "55100"), ("Pescara", "65121"), ("Palermo", "90133"), ("Catania", "95131"),
        ("Cagliari", "09124"), ("Lissone", "20851"), ("Cantù", "22063"), ("Pordenone", "33170"),
    )),
    "FR": (1, "fr", "fr_FR", (("Paris", "75008"), ("Lyon", "69002"), ("Nice", "06000"),
                              ("Marseille", "13001"), ("Lille", "59000"))),
    "DE": (5, "de", "de_DE", (("München", "80331"), ("Stuttgart", "70173"), ("Berlin", "10115"),
                              ("Frankfurt am Main", "60311"), ("Hamburg", "20095"))),
    "CH": (6, "ch", "de_CH", (("Zürich", "8001"), ("Basel", "4051"), ("Bern", "3011"))),
    "GB": (7, "co.uk", "en_GB", (("London", "EC1A 1BB"), ("Manchester", "M1 1AE"),
                                 ("Birmingham", "B1 1AA"))),
    "ES": (4, "es", "es_ES", (("Barcelona", "08001"), ("Madrid", "28001"),
                              ("Valencia", "46001"))),
    "BE": (2, "be", "fr_BE", (("Bruxelles", "1000"), ("Antwerpen", "2000"))),
}
_OTHER_ENTITY_TOWNS = (("Lugano", "6900"), ("Bellinzona", "6500"), ("Locarno", "6600"),
                       ("Mendrisio", "6850"), ("Chiasso", "6830"), ("Lugano", "6900"))
_PROJECT_THEMES = (
    "Nuovo showroom", "Arredo uffici sede", "Ristrutturazione reception", "Fornitura sale riunioni",
    "Allestimento stand fiera", "Rinnovo camere hotel", "Open space secondo piano",
    "Arredo aule formazione", "Trasloco e rimontaggio", "Area relax e mensa",
)
_INTERVENTIONS = (
    "Montaggio arredi", "Sopralluogo tecnico", "Manutenzione programmata",
    "Riparazione sedute", "Installazione pareti divisorie", "Smontaggio e ritiro usato",
)
_LEGAL_FORM = re.compile(
    r"\s+(S\.r\.l\.(s\.)?|S\.p\.A\.|S\.n\.c\.|S\.a\.s\.|SARL|SAS|GmbH( & Co\. KG)?|AG|SA"
    r"|Ltd|plc|LLP|S\.L\.|S\.A\.|SRL|NV|BV)$"
)
_POSITIONS = ("Titolare", "Responsabile acquisti", "Amministrazione", "Office manager",
              "Direttore tecnico", "Facility manager")


def populate(database, prefix="llx_", entity=1, today=None):
    """Fill the (empty) Dolibarr tables of ``database`` with the demo company."""
    today = today or date.today()
    if isinstance(today, datetime):
        today = today.date()
    builder = _DemoBuilder(entity, today)
    builder.build()
    with database.atomic():
        for table, rows in builder.rows.items():
            _insert(database, prefix + table, rows)


def _insert(database, table, rows):
    """Insert dict rows that all have the same keys, dates in Dolibarr's text format."""
    if not rows:
        return
    columns = list(rows[0])
    target = Table(table, columns).bind(database)
    sql, _ = target.insert([tuple(rows[0].values())],
                           columns=[getattr(target, name) for name in columns]).sql()
    values = [tuple(_sql_value(row[name]) for name in columns) for row in rows]
    database.cursor().executemany(sql, values)


def _sql_value(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _hash_password(password):
    """PHP password_hash() output: bcrypt, cost 10, with PHP's "$2y$" prefix."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    return "$2y$" + hashed[4:]


def _core_name(name):
    """The company name without its legal form."""
    return _LEGAL_FORM.sub("", name)


def _slug(text):
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


@dataclass
class _Thirdparty:
    rowid: int
    entity: int
    name: str
    client: int
    fournisseur: int
    country: str
    created: datetime
    closed_on: date | None = None
    weight: float = 1.0
    history: list = field(default_factory=list)   # [(from day, tuple of logins)]
    contacts: list = field(default_factory=list)  # llx_socpeople rowids

    @property
    def is_customer(self):
        return self.client in (1, 3)

    @property
    def reps(self):
        return self.history[-1][1] if self.history else ()

    def reps_on(self, day):
        reps = ()
        for start, logins in self.history:
            if start <= day:
                reps = logins
        return reps


@dataclass
class _Document:
    element: str
    entity: int
    thirdparty: _Thirdparty | None
    created: datetime
    day: date | None
    status: int
    follow: list                  # logins following up, in insertion order
    rowid: int = 0
    ref: str = ""


class _DemoBuilder:
    """Builds every row in memory; :func:`populate` writes them."""

    def __init__(self, entity, today):
        self.entity = entity
        self.other_entity = entity + 1
        self.today = today
        self.rng = random.Random(_SEED)
        self.rows = {}
        self.type_ids = {}
        self.thirdparties = []
        self.documents = []

    def build(self):
        self._contact_types()
        self._constants()
        self._thirdparties()
        self._users()
        self._groups()
        self._sales_reps()
        self._contacts()
        self._documents()
        self._element_contacts()

    # --- helpers ---------------------------------------------------------------

    def _days_ago(self, days):
        return self.today - timedelta(days=days)

    def _at(self, day):
        """A moment during office hours on ``day``."""
        rng = self.rng
        return datetime.combine(day, time(rng.randint(8, 18), rng.randint(0, 59),
                                          rng.randint(0, 59)))

    def _after(self, moment, **delta):
        """``moment`` + ``delta``, but never later than today: it already happened."""
        return min(moment + timedelta(**delta), datetime.combine(self.today, time(23, 59)))

    def _weighted(self, weights):
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[key] for key in keys])[0]

    def _sample(self, weights, count):
        pool, chosen = dict(weights), []
        while pool and len(chosen) < count:
            pick = self._weighted(pool)
            chosen.append(pick)
            del pool[pick]
        return tuple(chosen)

    # --- dictionaries and settings -------------------------------------------

    def _contact_types(self):
        rows = []
        with _TYPE_CONTACTS_CSV.open(newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                row = {
                    "rowid": int(record["rowid"]), "element": record["element"],
                    "source": record["source"], "code": record["code"],
                    "libelle": record["libelle"] or None, "active": int(record["active"]),
                    "module": record["module"] or None, "position": int(record["position"]),
                }
                rows.append(row)
                self.type_ids[row["element"], row["source"], row["code"]] = row["rowid"]
        self.rows["c_type_contact"] = rows

    def _constants(self):
        values = [("MAIN_VERSION_LAST_UPGRADE", "23.0.0", 0),
                  ("MAIN_SECURITY_HASH_ALGO", "password_hash", self.entity),
                  ("MAIN_INFO_SOCIETE_NOM", COMPANY_NAME, self.entity),
                  ("MAIN_INFO_SOCIETE_COUNTRY", "3:IT:Italia", self.entity),
                  ("MAIN_LANG_DEFAULT", "auto", self.entity),  # as Dolibarr installs it
                  ("MAIN_MONNAIE", "EUR", self.entity),
                  ("MAIN_INFO_SOCIETE_NOM", OTHER_COMPANY_NAME, self.other_entity)]
        modules = ("SOCIETE", "PROPALE", "COMMANDE", "FACTURE", "FOURNISSEUR", "SUPPLIERPROPOSAL",
                   "CONTRAT", "FICHEINTER", "EXPEDITION", "PROJET", "AGENDA")
        values += [(f"MAIN_MODULE_{module}", "1", self.entity) for module in modules]
        installed = datetime.combine(self._days_ago(3300), time(9, 0))
        self.rows["const"] = [
            {"name": name, "entity": entity, "value": value, "type": "chaine", "visible": 0,
             "note": None, "tms": installed}
            for name, value, entity in values
        ]

    # --- thirdparties ------------------------------------------------------------

    def _thirdparties(self):
        rng = self.rng
        main_count, other_count = 320, 6
        total = main_count + other_count
        fixed = {_SCENARIO_SOCID, _PORTAL_SOCID}
        other_ids = set(rng.sample([i for i in range(40, total + 1) if i not in fixed],
                                   other_count))
        used_names = {_SCENARIO_NAME, _PORTAL_NAME}
        other_towns = iter(_OTHER_ENTITY_TOWNS)
        rows = []
        for rowid in range(1, total + 1):
            if rowid == _SCENARIO_SOCID:
                # Weight 0: no random documents, only the hand-made _SCENARIO_DOCS.
                tp = _Thirdparty(rowid, self.entity, _SCENARIO_NAME, 1, 0, "IT",
                                 self._at(self._days_ago(2400)), weight=0)
                town = ("Lissone", "20851")
            elif rowid == _PORTAL_SOCID:
                tp = _Thirdparty(rowid, self.entity, _PORTAL_NAME, 1, 0, "IT",
                                 self._at(self._days_ago(2100)), weight=2.0)
                town = ("Verona", "37121")
            elif rowid in other_ids:
                name = self._unique_name(used_names, "CH", supplier=False)
                tp = _Thirdparty(rowid, self.other_entity, name, 1, 0, "CH",
                                 self._at(self._days_ago(rng.randint(400, 2500))))
                town = next(other_towns)
            else:
                tp = self._random_thirdparty(rowid, used_names)
                town = rng.choice(_COUNTRIES[tp.country][3])
            self.thirdparties.append(tp)
            rows.append(self._thirdparty_row(tp, town))
        self._number_thirdparties(rows)
        self.rows["societe"] = rows
        self.by_socid = {tp.rowid: tp for tp in self.thirdparties}

    def _random_thirdparty(self, rowid, used_names):
        rng = self.rng
        roll = rng.random()
        client, fournisseur = ((1, 0) if roll < 0.46 else (2, 0) if roll < 0.66 else
                               (3, 0) if roll < 0.71 else (1, 1) if roll < 0.76 else (0, 1))
        country = "IT" if rng.random() < 0.85 else rng.choice(sorted(_FOREIGN))
        name = self._unique_name(used_names, country, supplier=client == 0)
        if rng.random() < 0.7:
            age = rng.randint(_HISTORY_DAYS + 5, 3000)
        else:
            age = rng.randint(20, _HISTORY_DAYS)
        tp = _Thirdparty(rowid, self.entity, name, client, fournisseur, country,
                         self._at(self._days_ago(age)),
                         weight=min(rng.paretovariate(1.4), 25.0))
        if rng.random() < 0.05:
            tp.closed_on = self._days_ago(rng.randint(60, min(age, 900)))
        return tp

    def _unique_name(self, used, country, supplier):
        rng = self.rng
        while True:
            if country == "IT":
                surname = rng.choice(_SURNAMES_IT)
                form = self._weighted(dict(_IT_FORMS))
                pattern = rng.random()
                if supplier:
                    name = f"{rng.choice(_SUPPLY_IT)} {surname}"
                elif pattern < 0.45:
                    name = f"{surname} {rng.choice(_SECTORS_IT)}"
                elif pattern < 0.7:
                    name = f"{rng.choice(_SECTORS_IT)} {surname}"
                elif pattern < 0.85:
                    name = f"{surname} & {rng.choice(_SURNAMES_IT)}"
                    form = "S.n.c."
                else:
                    name = f"{surname} {rng.choice(_FIRSTNAMES_IT)} & C."
                    form = "S.a.s."
                name = f"{name} {form}".strip()
            else:
                surnames, sectors, forms = _FOREIGN[country]
                name = f"{rng.choice(surnames)} {rng.choice(sectors)} {rng.choice(forms)}"
            if name not in used:
                used.add(name)
                return name

    def _thirdparty_row(self, tp, town):
        rng = self.rng
        country_id, tld, lang, _ = _COUNTRIES[tp.country]
        core = _core_name(tp.name)
        slug = _slug(core)[:24]
        alias = None
        if rng.random() < 0.2:
            initials = "".join(word[0] for word in core.split() if word[0].isalpha()).upper()
            alias = f"{initials} {rng.choice(('Group', 'Design', 'Italia', 'Contract'))}"
        modified = tp.created + timedelta(days=rng.randint(0, 400))
        modified = min(modified, datetime.combine(self.today, time(8, 0)))
        phone_prefix = "+39 0" + str(rng.randint(2, 99)) if tp.country == "IT" else None
        return {
            "rowid": tp.rowid, "entity": tp.entity, "nom": tp.name, "name_alias": alias,
            "client": tp.client, "fournisseur": tp.fournisseur,
            "code_client": None, "code_fournisseur": None,
            "address": f"Via {rng.choice(_SURNAMES_IT)} {rng.randint(1, 180)}"
            if tp.country == "IT" else f"{rng.randint(1, 90)} Main Street",
            "zip": town[1], "town": town[0], "fk_pays": country_id,
            "phone": f"{phone_prefix} {rng.randint(100000, 9999999)}" if phone_prefix else None,
            "email": f"info@{slug}.{tld}",
            "url": f"https://www.{slug}.{tld}",
            "tva_intra": f"IT{rng.randint(10**10, 10**11 - 1)}" if tp.country == "IT" else None,
            "default_lang": lang,
            "status": 0 if tp.closed_on else 1,
            "fk_stcomm": 2 if tp.client == 2 else 0,
            "fk_user_creat": _USER_ID["admin"],
            "datec": tp.created,
            "tms": datetime.combine(tp.closed_on, time(17, 30)) if tp.closed_on else modified,
        }

    def _number_thirdparties(self, rows):
        """Codes as Dolibarr's default "monkey" module makes them: CU2301-00012, SU...."""
        counters = {}
        for row in sorted(rows, key=lambda row: (row["datec"], row["rowid"])):
            for column, prefix, wanted in (("code_client", "CU", row["client"] > 0),
                                           ("code_fournisseur", "SU", row["fournisseur"] == 1)):
                if wanted:
                    key = (prefix, row["entity"])
                    counters[key] = counters.get(key, 0) + 1
                    row[column] = f"{prefix}{row['datec']:%y%m}-{counters[key]:05d}"

    # --- users and groups --------------------------------------------------------

    def _users(self):
        rng = self.rng
        entities = {"main": self.entity, "all": 0, "other": self.other_entity}
        portal_contact = self._add_contact(self.by_socid[_PORTAL_SOCID], "Mario", "Verdi",
                                           "Responsabile acquisti")
        rows = []
        for rowid, spec in enumerate(_USERS, start=1):
            created = self._at(self._days_ago(spec.hired_days_ago))
            mailbox = f"{spec.firstname}.{spec.lastname}".lower() if spec.firstname else spec.login
            email = (f"m.verdi@{_slug(_core_name(_PORTAL_NAME))}.it" if spec.external
                     else f"{mailbox}@{_MAIL_DOMAIN}")
            manager = ("mbianchi" if spec.job.startswith(("Sales rep", "Export")) and
                       spec.entity == "main" else None)
            rows.append({
                "rowid": rowid, "entity": entities[spec.entity], "login": spec.login,
                "lastname": spec.lastname, "firstname": spec.firstname, "email": email,
                "job": spec.job, "pass": None, "pass_crypted": _hash_password(DEMO_PASSWORD),
                "admin": int(spec.admin), "statut": int(spec.active),
                "employee": 0 if spec.external or spec.admin else 1,
                "fk_soc": _PORTAL_SOCID if spec.external else None,
                "fk_socpeople": portal_contact if spec.external else None,
                "fk_user": _USER_ID[manager] if manager else None,
                "lang": spec.lang,
                "office_phone": None if spec.external else f"+39 02 5550{rowid:03d}",
                "gender": None if spec.admin else ("woman" if spec.firstname and
                                                   spec.firstname.endswith("a") else "man"),
                "dateemployment": None if spec.external or spec.admin else created.date(),
                "datelastlogin": (self._at(self._days_ago(rng.randint(0, 20)))
                                  if spec.active else None),
                "datec": created, "tms": created,
            })
        self.rows["user"] = rows

    def _groups(self):
        created = datetime.combine(self._days_ago(3200), time(10, 0))
        self.rows["usergroup"] = [
            {"rowid": rowid, "nom": name, "entity": self.entity, "note": note, "datec": created,
             "tms": created}
            for rowid, (name, note) in enumerate(_GROUPS, start=1)
        ]
        group_ids = {name: rowid for rowid, (name, _) in enumerate(_GROUPS, start=1)}
        self.rows["usergroup_user"] = [
            {"entity": self.entity, "fk_user": _USER_ID[spec.login],
             "fk_usergroup": group_ids[group]}
            for spec in _USERS for group in spec.groups
        ]

    # --- sales representatives ---------------------------------------------------

    def _sales_reps(self):
        for tp in self.thirdparties:
            if tp.entity == self.other_entity:
                tp.history = [(tp.created.date(), ("kweber",))]
            elif tp.rowid == _SCENARIO_SOCID:
                tp.history = [(tp.created.date(), (DEMO_SCENARIO["from_login"],)),
                              (self._days_ago(_SCENARIO_SWITCH), (DEMO_SCENARIO["to_login"],))]
            elif tp.client:
                tp.history = self._sales_history(tp)
            else:
                buyers = self._sample(_BUYERS, 0 if self.rng.random() < 0.1 else 1)
                tp.history = [(tp.created.date(), buyers)]
        self.rows["societe_commerciaux"] = [
            {"fk_soc": tp.rowid, "fk_user": _USER_ID[login],
             "fk_c_type_contact_code": "SALESREPTHIRD"}
            for tp in self.thirdparties for login in tp.reps
        ]

    def _sales_history(self, tp):
        """Reps of a customer/prospect over time: original choice, then the three events."""
        rng = self.rng
        created = tp.created.date()
        pool = dict(_SALES_IT if tp.country == "IT" else _SALES_EXPORT)
        for login, gone in (("rgreco", _GRECO_LEFT), ("vbruno", _BRUNO_LEFT)):
            if created >= self._days_ago(gone):
                pool.pop(login, None)
        if created < self._days_ago(_MARINO_JOINED):
            pool.pop("dmarino", None)
        count = self._weighted({0: 10, 1: 72, 2: 14, 3: 4})
        reps = self._sample(pool, count)
        history = [(created, reps)]

        def change(day, old, new):
            current = history[-1][1]
            updated = tuple(new if login == old else login for login in current)
            history.append((day, tuple(dict.fromkeys(updated))))

        greco_day = self._days_ago(_GRECO_LEFT)
        if "rgreco" in reps and rng.random() < 0.75:
            successors = [login for login in ("fgallo", "sromano", "lricci") if login not in reps]
            change(greco_day, "rgreco", rng.choice(successors))
        reshuffle_day = self._days_ago(_RESHUFFLE)
        current = history[-1][1]
        if (created < reshuffle_day and len(current) == 1 and current[0] in _ACTIVE_SALES
                and rng.random() < 0.08):
            others = [login for login in pool if login in _ACTIVE_SALES and login != current[0]
                      and login != "dmarino"]
            change(reshuffle_day, current[0], rng.choice(others))
        if "vbruno" in history[-1][1] and rng.random() < 0.75:
            change(self._days_ago(_BRUNO_LEFT), "vbruno", "dmarino")
        return history

    # --- external contacts -------------------------------------------------------

    def _add_contact(self, tp, firstname, lastname, position):
        rows = self.rows.setdefault("socpeople", [])
        rowid = len(rows) + 1
        created = tp.created + timedelta(days=self.rng.randint(0, 60))
        domain = f"{_slug(_core_name(tp.name))[:24]}.{_COUNTRIES[tp.country][1]}"
        rows.append({
            "rowid": rowid, "entity": tp.entity, "fk_soc": tp.rowid, "firstname": firstname,
            "lastname": lastname, "poste": position,
            "email": f"{_slug(firstname)[0]}.{_slug(lastname)}@{domain}",
            "statut": 1, "priv": 0, "datec": created, "tms": created,
        })
        tp.contacts.append(rowid)
        return rowid

    def _contacts(self):
        rng = self.rng
        customers = [tp for tp in self.thirdparties
                     if tp.entity == self.entity and tp.is_customer and tp.rowid != _PORTAL_SOCID]
        for tp in rng.sample(customers, 110):
            for _ in range(rng.choice((1, 1, 2, 3))):
                self._add_contact(tp, rng.choice(_FIRSTNAMES_IT), rng.choice(_SURNAMES_IT),
                                  rng.choice(_POSITIONS))

    # --- documents ---------------------------------------------------------------

    def _documents(self):
        pools = self._party_pools()
        for doc_type in doctypes.DOC_TYPES:
            spec = _DOC_SPECS[doc_type.element]
            docs = [self._random_document(doc_type.element, spec, pools[spec.parties])
                    for _ in range(spec.count)]
            for _ in range(spec.other_entity_count):
                docs.append(self._other_entity_document(doc_type.element, spec))
            docs += [self._scenario_document(element, days, status)
                     for element, days, status in _SCENARIO_DOCS if element == doc_type.element]
            if doc_type.element == "project":
                docs += [self._internal_project() for _ in range(4)]
            self._blank_some_dates(doc_type, docs)
            self._number(spec, docs)
            self.rows[doc_type.table] = [self._document_row(doc_type, spec, doc) for doc in docs]
            self.documents += docs

    def _party_pools(self):
        main = [tp for tp in self.thirdparties if tp.entity == self.entity and tp.weight > 0]
        pools = {
            "customers": [tp for tp in main if tp.is_customer],
            "prospects": [tp for tp in main if tp.client],
            "suppliers": [tp for tp in main if tp.fournisseur],
        }
        return {name: (pool, [tp.weight for tp in pool]) for name, pool in pools.items()}

    def _random_document(self, element, spec, pool):
        rng = self.rng
        parties, weights = pool
        while True:
            day = self._days_ago(rng.randint(0, _HISTORY_DAYS - 1))
            tp = rng.choices(parties, weights=weights)[0]
            if tp.created.date() <= day and (tp.closed_on is None or day < tp.closed_on):
                break
        age = (self.today - day).days
        status = self._weighted(spec.recent if age < _RECENT_DAYS else spec.old)
        created = self._at(day)
        follow = list(tp.reps_on(day))
        follow = self._add_noise(tp, follow, buyers=spec.parties == "suppliers")
        return _Document(element, self.entity, tp, created, day, status, follow)

    def _add_noise(self, tp, follow, buyers):
        """A few documents lose their follow-up or gain an extra one, as in real life."""
        rng = self.rng
        staff = list(_BUYERS) if buyers and not tp.client else list(_ACTIVE_SALES)
        roll = rng.random()
        if not follow:
            if roll < 0.15:
                follow = [rng.choice(staff)]
        elif roll < 0.02:
            follow = []
        elif roll < 0.04:
            follow = follow + [rng.choice([login for login in staff if login not in follow])]
        return follow

    def _other_entity_document(self, element, spec):
        tp = self.rng.choice([tp for tp in self.thirdparties if tp.entity == self.other_entity])
        day = self._days_ago(self.rng.randint(0, 400))
        status = self._weighted(spec.old)
        return _Document(element, self.other_entity, tp, self._at(day), day, status, ["kweber"])

    def _scenario_document(self, element, days, status):
        day = self._days_ago(days)
        return _Document(element, self.entity, self.by_socid[_SCENARIO_SOCID], self._at(day),
                         day, status, [DEMO_SCENARIO["from_login"]])

    def _internal_project(self):
        """Projects without a thirdparty (fk_soc is nullable on llx_projet)."""
        day = self._days_ago(self.rng.randint(0, _HISTORY_DAYS - 1))
        return _Document("project", self.entity, None, self._at(day), day,
                         self._weighted(_DOC_SPECS["project"].old), ["pmoretti"])

    def _blank_some_dates(self, doc_type, docs):
        """Drafts with no date yet; supplier orders get theirs only when ordered."""
        if doc_type.element == "order_supplier":
            for doc in docs:
                if doc.status in (0, 1, 2, 9):
                    doc.day = None
            return
        drafts = [doc for doc in docs if doc.status == 0 and doc.entity == self.entity
                  and doc.thirdparty and doc.thirdparty.rowid != _SCENARIO_SOCID]
        for doc in self.rng.sample(drafts, min(3, len(drafts))):
            doc.day = None

    def _number(self, spec, docs):
        """Rowids in creation order; refs as Dolibarr numbers them, "(PROVn)" for drafts."""
        docs.sort(key=lambda doc: doc.created)
        counters = {}
        for rowid, doc in enumerate(docs, start=1):
            doc.rowid = rowid
        for doc in sorted(docs, key=lambda doc: (doc.day or doc.created.date(), doc.created)):
            if doc.status == 0 and doc.element != "project":
                doc.ref = f"(PROV{doc.rowid})"
                continue
            counters[doc.entity] = counters.get(doc.entity, 0) + 1
            day = doc.day or doc.created.date()
            doc.ref = f"{spec.prefix}{day:%y%m}-{counters[doc.entity]:04d}"

    def _document_row(self, doc_type, spec, doc):
        rng = self.rng
        tp = doc.thirdparty
        author = _USER_ID[doc.follow[0]] if doc.follow else _USER_ID["mbianchi"]
        validated = self._after(doc.created, hours=rng.randint(1, 72)) if doc.status else None
        row = {
            "rowid": doc.rowid, "ref": doc.ref, "entity": doc.entity,
            "fk_soc": tp.rowid if tp else None,
            doc_type.status_column: doc.status,
            spec.creation_column: doc.created,
            "tms": validated or doc.created,
        }
        if doc_type.date_column:
            row[doc_type.date_column] = doc.day
        amount = round(rng.lognormvariate(7.4, 1.0), 2)
        vat = round(amount * 0.22, 2) if tp and tp.country == "IT" else 0.0
        totals = {"total_ht": amount, "total_tva": vat, "total_ttc": round(amount + vat, 2)}
        extra = getattr(self, "_extra_" + doc_type.element)
        row.update(extra(doc, author, validated, totals))
        return row

    def _extra_propal(self, doc, author, validated, totals):
        closed = doc.status in (2, 3, 4)
        return {
            **totals, "fin_validite": doc.created + timedelta(days=30),
            "fk_user_author": author, "date_valid": validated,
            "fk_user_valid": author if validated else None,
            "date_signature": self._after(validated, days=7) if doc.status in (2, 4) else None,
            "date_cloture": self._after(validated, days=8) if closed else None,
            "fk_user_cloture": author if closed else None,
            "fk_cond_reglement": 1, "fk_mode_reglement": 2, "multicurrency_code": "EUR",
            "multicurrency_tx": 1,
        }

    def _extra_commande(self, doc, author, validated, totals):
        return {
            **totals, "ref_client": f"ODA {self.rng.randint(1000, 99999)}"
            if self.rng.random() < 0.4 else None,
            "fk_user_author": author, "date_valid": validated,
            "fk_user_valid": author if validated else None,
            "date_cloture": self._after(validated, days=20) if doc.status == 3 else None,
            "facture": 1 if doc.status == 3 and self.rng.random() < 0.9 else 0,
            "date_livraison": doc.created.date() + timedelta(days=self.rng.randint(10, 45)),
            "fk_cond_reglement": 1, "multicurrency_code": "EUR", "multicurrency_tx": 1,
        }

    def _extra_facture(self, doc, author, validated, totals):
        paid = doc.status == 2 and self.rng.random() < 0.96
        due = (doc.day or doc.created.date()) + timedelta(days=30)
        return {
            **totals, "type": 0, "paye": int(paid),
            "close_code": "discount_vat" if doc.status == 2 and not paid
            else "abandon" if doc.status == 3 else None,
            "fk_user_author": author, "date_valid": validated,
            "fk_user_valid": author if validated else None,
            "date_closing": self._after(validated, days=35) if doc.status in (2, 3) else None,
            "date_lim_reglement": due, "fk_cond_reglement": 1, "fk_mode_reglement": 2,
            "multicurrency_code": "EUR", "multicurrency_tx": 1,
        }

    def _extra_order_supplier(self, doc, author, validated, totals):
        approved = validated if doc.status in (2, 3, 4, 5, 7) else None
        return {
            **totals, "source": 0, "ref_supplier": f"OF-{doc.rowid:05d}",
            "billed": 1 if doc.status == 5 and self.rng.random() < 0.85 else 0,
            "fk_user_author": author, "date_valid": validated,
            "fk_user_valid": author if validated else None,
            "date_approve": approved, "fk_user_approve": _USER_ID["mbianchi"] if approved else None,
            "date_livraison": doc.created.date() + timedelta(days=self.rng.randint(7, 40)),
            "fk_cond_reglement": 1, "multicurrency_code": "EUR", "multicurrency_tx": 1,
        }

    def _extra_invoice_supplier(self, doc, author, validated, totals):
        paid = doc.status == 2
        return {
            "total_ht": totals["total_ht"], "total_tva": totals["total_tva"],
            "tva": totals["total_tva"], "total_ttc": totals["total_ttc"],
            "ref_supplier": f"FT-{doc.rowid:05d}/{doc.created:%y}", "type": 0, "paye": int(paid),
            "libelle": None, "fk_user_author": author, "date_valid": validated,
            "fk_user_valid": author if validated else None,
            "date_lim_reglement": (doc.day or doc.created.date()) + timedelta(days=60),
            "fk_cond_reglement": 1, "multicurrency_code": "EUR", "multicurrency_tx": 1,
        }

    def _extra_supplier_proposal(self, doc, author, validated, totals):
        return {
            **totals, "fk_user_author": author, "date_valid": validated,
            "fk_user_valid": author if validated else None,
            "date_cloture": self._after(validated, days=10) if doc.status in (2, 3, 4) else None,
            "date_livraison": doc.created.date() + timedelta(days=30),
            "multicurrency_code": "EUR", "multicurrency_tx": 1,
        }

    def _extra_contrat(self, doc, author, validated, totals):
        rep = author if doc.follow else None
        return {
            **totals, "fk_user_author": author,
            "fk_commercial_signature": rep, "fk_commercial_suivi": rep,
            "date_cloture": self._after(doc.created, days=365) if doc.status == 2 else None,
            "fk_user_cloture": author if doc.status == 2 else None,
            "ref_customer": f"CTR-{doc.rowid:04d}" if self.rng.random() < 0.3 else None,
        }

    def _extra_fichinter(self, doc, author, validated, totals):
        day = doc.day or doc.created.date()
        return {
            "fk_user_author": author, "date_valid": validated,
            "fk_user_valid": author if validated else None,
            "dateo": day, "datee": day + timedelta(days=self.rng.choice((0, 0, 1, 2))),
            "duree": 3600 * self.rng.randint(1, 16),
            "description": self.rng.choice(_INTERVENTIONS),
        }

    def _extra_shipping(self, doc, author, validated, totals):
        shipped = doc.day or doc.created.date()
        return {
            "fk_user_author": author, "date_valid": validated,
            "fk_user_valid": author if validated else None,
            "date_delivery": datetime.combine(shipped + timedelta(days=self.rng.randint(1, 5)),
                                              time(10, 0)),
            "tracking_number": f"1Z{self.rng.randint(10**9, 10**10 - 1)}"
            if doc.status in (1, 2, 3) else None,
            "billed": 1 if doc.status == 2 and self.rng.random() < 0.8 else 0,
            "weight": round(self.rng.uniform(5, 400), 1), "weight_units": 0,
        }

    def _extra_project(self, doc, author, validated, totals):
        rng = self.rng
        start = doc.day
        tp_name = _core_name(doc.thirdparty.name) if doc.thirdparty else "Sede"
        return {
            "title": f"{rng.choice(_PROJECT_THEMES)} - {tp_name}",
            "description": None, "fk_user_creat": author, "public": int(rng.random() < 0.3),
            "datee": start + timedelta(days=rng.randint(20, 240)) if start else None,
            "date_close": self._after(doc.created, days=200) if doc.status == 2 else None,
            "fk_user_close": author if doc.status == 2 else None,
            "budget_amount": totals["total_ht"] * 4, "usage_task": 1, "usage_bill_time": 0,
        }

    # --- contacts on documents ---------------------------------------------------

    def _element_contacts(self):
        rng = self.rng
        rows = []
        internal = {doc_type.element: doc_type.default_contact_code
                    for doc_type in doctypes.DOC_TYPES}
        for doc in self.documents:
            links = []
            follow_type = self.type_ids[doc.element, "internal", internal[doc.element]]
            links += [(follow_type, _USER_ID[login]) for login in doc.follow]
            if doc.entity == self.entity:
                links += self._other_roles(doc)
            seen = set()
            for type_id, person in links:
                if (type_id, person) in seen:
                    continue
                seen.add((type_id, person))
                rows.append({
                    "datecreate": doc.created + timedelta(minutes=rng.randint(0, 30)),
                    "statut": 4, "element_id": doc.rowid, "fk_c_type_contact": type_id,
                    "fk_socpeople": person,
                })
        self.rows["element_contact"] = rows

    def _other_roles(self, doc):
        rng = self.rng
        types = self.type_ids
        links = []
        if doc.element in _EXTERNAL_ROLES and doc.thirdparty and doc.thirdparty.contacts:
            code, share = _EXTERNAL_ROLES[doc.element]
            if rng.random() < share:
                links.append((types[doc.element, "external", code],
                              rng.choice(doc.thirdparty.contacts)))
        if doc.element == "contrat" and doc.follow and rng.random() < 0.5:
            links.append((types["contrat", "internal", "SALESREPSIGN"], _USER_ID[doc.follow[0]]))
        if doc.element == "project" and rng.random() < 0.4:
            links.append((types["project", "internal", "PROJECTCONTRIBUTOR"],
                          _USER_ID["pmoretti"]))
        if doc.element == "fichinter" and rng.random() < 0.3:
            links.append((types["fichinter", "internal", "INTERVENING"], _USER_ID["pmoretti"]))
        if doc.element == "order_supplier" and rng.random() < 0.1:
            links.append((types["order_supplier", "internal", "SHIPPING"], _USER_ID["lfontana"]))
        return links
