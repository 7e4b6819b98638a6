"""Reliability and security under load, faults and hostile input (issue #11).

``python -m stress`` (``make stress``) runs the long scenarios and prints their
figures; ``tests/test_reliability*.py`` run short versions of the same code in
``make test``. See docs/reliability.md.
"""
