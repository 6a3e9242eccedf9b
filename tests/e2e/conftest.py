"""The fleet fixture (e2e_fleet.py): started by the test, stopped here."""
import pytest

from e2e_fleet import Fleet


@pytest.fixture
def fleet(tmp_path):
    made = []

    def make(**kw):
        f = Fleet(str(tmp_path), **kw)
        made.append(f)
        return f.start()

    yield make
    for f in made:
        f.stop()
