"""Hostile input on every route (Hypothesis): never a 5xx, and a rejected request
changes nothing. A few examples per route here; ``make stress`` sends over 10,000."""
from stress import fuzz

from conftest import PASSWORD

EXAMPLES_PER_ROUTE = 4


def test_every_route_of_the_url_map_has_its_fields(app):
    """New routes must be added to stress.fuzz.ROUTES (they are fuzzed generically meanwhile)."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - fuzz.SKIPPED_ENDPOINTS
    assert endpoints <= set(fuzz.ROUTES), sorted(endpoints - set(fuzz.ROUTES))


def test_fuzzing_every_route_never_gives_a_5xx_nor_changes_anything_when_refused(
        app, db, people, login_as):
    people.user("fuzz.viewer")
    people.user("fuzz.boss", admin=1)
    clients = [fuzz.client_for(app, "fuzz.boss", PASSWORD),
               fuzz.client_for(app, "fuzz.viewer", PASSWORD),
               fuzz.client_for(app, "fuzz.boss", PASSWORD, basic=True)]
    figures = fuzz.fuzz_routes(app, clients, db, EXAMPLES_PER_ROUTE, derandomize=True)
    assert figures.server_errors == [] and figures.changed_by_rejected == []
    assert figures.requests >= EXAMPLES_PER_ROUTE * figures.routes
    assert figures.rejected and figures.accepted and figures.checksums_compared
