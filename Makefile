# autocontact — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test serve check clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

run: $(BIN)/.installed  ## serve the demo (or configured) database on http://127.0.0.1:5000
	$(BIN)/flask --app app run --host 127.0.0.1 --port 5000

serve: $(BIN)/.installed  ## the same under uWSGI, as in production
	$(BIN)/uwsgi --ini wsgi.ini --home $(VENV)

test: $(BIN)/.installed  ## every test, on SQLite and on MariaDB
	$(BIN)/python -m pytest

check: $(BIN)/.installed  ## what autocontact sees in the configured database
	$(BIN)/flask --app app dolibarr check

clean:
	rm -rf $(VENV) instance/demo.sqlite* .pytest_cache test-artifacts

.PHONY: bench
bench: $(BIN)/.installed  ## issue #8 benchmark on MariaDB and SQLite (large generated Dolibarr); writes docs/benchmarks.md
	$(BIN)/python -m bench.run

.PHONY: stress
stress: $(BIN)/.installed  ## issue #11: 8 clients for 60 s, killed connections, 10,000+ hostile requests (MariaDB)
	$(BIN)/python -m stress

.PHONY: translations
translations: $(BIN)/.installed  ## extract the messages, merge them into the Italian catalog, compile it
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d translations --statistics
