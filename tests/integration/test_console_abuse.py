"""lifelinectl against what a technician (or a script) can type: command
lines longer than the daemon takes, given as arguments or piped, and a line
of many words completed with Tab. Each once overflowed a stack buffer in
lifelinectl (under make check SAN=1 the binary is an ASan build, so such an
overflow fails the test); now each is refused whole, with a clear error,
and the session goes on."""
import os

import pexpect

from test_console import CTL, ctl, daemon, sockdir, spawn  # noqa: F401 (fixtures)


def test_overlong_arguments_refused_whole(daemon, sockdir):
    # 4100 bytes of one word and one more: 4 bytes over the daemon's limit
    rc, out, err = ctl(sockdir, "A" * 4100, "B", user=True)
    assert (rc, out, err) == (1, "", "lifelinectl: command too long (at most 4096 bytes)\n"), err[-2000:]
    # words that together pass the limit only with the last one
    rc, out, err = ctl(sockdir, *(["show"] + ["x" * 1100] * 4 + ["status"]), user=True)
    assert (rc, err) == (1, "lifelinectl: command too long (at most 4096 bytes)\n"), err[-2000:]
    # exactly 4096 bytes reach the daemon (and are an unknown command there)
    rc, out, err = ctl(sockdir, "y" * 4096, user=True)
    assert rc == 1 and err.startswith("error: unknown command 'yyyy"), err[-2000:]
    assert ctl(sockdir, "show", "status", user=True)[0] == 0
    assert "unknown command 'AAAA" not in daemon.output() and "'BAAA" not in daemon.output()


def test_overlong_script_line_refused_not_cut(daemon, sockdir):
    # cut to 4096 bytes, the first would be "show status": refused whole instead
    script = "show status" + " " * 5000 + "x\n" + "show status\n"
    for args in ((), ("--json",)):
        rc, out, err = ctl(sockdir, *args, stdin=script, user=True)
        assert rc == 1, (out, err[-2000:])
        assert err == "lifelinectl: command too long (at most 4096 bytes)\n", err[-2000:]
        assert out.count("it-gw") == 1  # the second line only


def test_tab_after_many_words(daemon, sockdir):
    child = spawn(sockdir)
    # 40 words of 9 characters, then Tab: more words than any command has
    child.send(" ".join(["abcdefghi"] * 40) + " \t")
    child.sendline("")
    child.expect("error: too many words \\(at most 16\\)")
    child.expect("it-gw.*> ")
    child.send("show sen\t")  # completion still works in the same session
    child.expect("sor")
    child.sendline("s")
    child.expect("gas-01 +gas +12.5")
    child.expect("it-gw.*> ")
    child.sendline("quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
