"""The binaries are hardened as the build promises (Makefile): PIE, full
RELRO (GNU_RELRO and BIND_NOW), the stack protector, and FORTIFY_SOURCE
(not in the sanitizer build, where it would hide overflows from ASan).
What checksec reports, read with readelf."""
import os
import subprocess

import pytest

from conftest import BUILD

BINARIES = ["lifelined", "lifelinectl", "lifeline-center", "lifeline-sim"]


def readelf(*args):
    return subprocess.run(["readelf", "-W"] + list(args), capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("name", BINARIES)
def test_binary_hardened(name):
    path = os.path.join(BUILD, name)
    dynamic = readelf("-d", path)
    assert "Position-Independent Executable file" in readelf("-h", path) or \
        "DYN (" in readelf("-h", path), "%s: not PIE" % name
    flags1 = [l for l in dynamic.splitlines() if "(FLAGS_1)" in l]
    assert flags1 and "PIE" in flags1[0], "%s: no FLAGS_1 PIE\n%s" % (name, dynamic)
    assert "NOW" in flags1[0] or "BIND_NOW" in dynamic, "%s: not bind now (partial RELRO)" % name
    assert "GNU_RELRO" in readelf("-l", path), "%s: no GNU_RELRO" % name
    symbols = readelf("--dyn-syms", path)
    assert "__stack_chk_fail" in symbols, "%s: no stack protector" % name
    if "__asan_init" not in symbols:  # a sanitizer build has no FORTIFY: see the Makefile
        assert "_chk@" in symbols.replace("__stack_chk_fail@", ""), "%s: no FORTIFY_SOURCE" % name
