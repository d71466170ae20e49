"""Drive tails-server-gui as a person would, through the accessibility tree
(dogtail), inside a systemd test host under Xvfb. Run by the `gui` system
test: python3 gui_drive.py SHOTS_DIR GO_FILE. Prints `ADDRESS=` (read from the
window), then waits (bounded) for GO_FILE, which the test makes once it has
fetched the page through Tor at that address. Every wait is bounded; a
failure prints what the window showed and saves a screenshot."""

import os
import subprocess
import sys
import time

from dogtail import config

config.config.searchCutoffCount = 3
config.config.defaultDelay = 0.1
config.config.logDebugToFile = False
from dogtail.tree import root  # noqa: E402

SHOTS, GO = sys.argv[1], sys.argv[2]


def shot(name):
    subprocess.run(["import", "-window", "root", os.path.join(SHOTS, name + ".png")], check=True, timeout=30)


def say(line):
    print(line, flush=True)


def dump(node, depth=0, out=None):
    out = [] if out is None else out
    if depth > 40 or len(out) > 400:
        return out
    try:
        out.append("  " * depth + "%s %r" % (node.roleName, node.name))
        for child in node.children:
            dump(child, depth + 1, out)
    except Exception as e:  # a node that went away meanwhile
        out.append("  " * depth + "(gone: %s)" % e)
    return out


def fail(what):
    try:
        shot("failed")
    except Exception:
        pass
    say("FAILED: " + what)
    say("\n".join(dump(root.application("tails-server-gui"))))
    sys.exit(1)


def wait_for(what, find, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            found = find()
            if found:
                return found
        except Exception:
            pass
        time.sleep(0.3)
    fail("not within %d s: %s" % (timeout, what))


def showing(node):
    # GTK 4.8 does not report "showing"; "visible" is what it keeps.
    try:
        return node.showing or node.visible
    except Exception:
        return False


def named(n, name):
    # GTK 4.8 says a button's own label after the name it was given, and a
    # dialog's response with its mnemonic ("_Add Add").
    return n.name in (name, "_%s %s" % (name, name)) or (n.name or "").startswith(name + " ")


def node(role, name, timeout=60):
    app = root.application("tails-server-gui")
    return wait_for("%s %r" % (role, name), lambda: next((n for n in app.findChildren(lambda n: n.roleName == role and named(n, name)) if showing(n)), None), timeout)


def label_with(text, timeout=60):
    app = root.application("tails-server-gui")
    return wait_for("a label with %r" % text, lambda: next((n for n in app.findChildren(lambda n: n.roleName == "label" and text in (n.name or "")) if showing(n)), None), timeout)


def click(role, name, timeout=60):
    # The one that can be clicked (a menu button holds a button of its name).
    app = root.application("tails-server-gui")
    def find():
        found = [n for n in app.findChildren(lambda n: n.roleName == role and named(n, name)) if showing(n) and "click" in n.actions]
        # The exact name first: "Add" is the dialog's, not "Add drop Add".
        # A dialog's response is said with its mnemonic: "_Add Add".
        exact = [n for n in found if n.name in (name, "_%s %s" % (name, name))]
        return exact[0] if exact else (found[0] if len(found) == 1 else None)

    found = wait_for("%s %r to click" % (role, name), find, timeout)
    found.doActionNamed("click")


def label_matching(what, pattern, timeout=60):
    import re

    app = root.application("tails-server-gui")
    return wait_for(what, lambda: next((n.name for n in app.findChildren(lambda n: n.roleName == "label" and re.fullmatch(pattern, n.name or "")) if showing(n)), None), timeout)


def toggle_enable_switch():
    # GTK 4.8 says a switch is a check box, whose action is "toggle".
    app = root.application("tails-server-gui")
    switch = wait_for("the enable switch", lambda: next((n for n in app.findChildren(lambda n: n.roleName == "check box" and named(n, "Enable web")) if showing(n)), None))
    switch.doActionNamed("toggle")


app = wait_for("the window", lambda: root.application("tails-server-gui"), 60)

# The services list: nothing added yet, the shipped services offered.
label_with("Your services")
node("push button", "Add web")
shot("1-services")

# Add web (a shipped plugin: the window hands the daemon its file) through
# the consent dialog, refusing nothing. The file chooser's path is not
# driven: without a window manager, Xvfb gives its dialog no keyboard focus.
click("push button", "Add web")
label_with("Add web?")
label_with("sha256: ")
label_with("install the Debian package lighttpd")
shot("2-consent")
click("push button", "Add")

# Its page, with its options rendered from their specs.
label_with("Web Site")
node("text", "Folder")
shot("3-service")

# Enable it: the steps, then published.
toggle_enable_switch()
label_with("✓ packages", 120)
shot("4-enabling")
label_with("On · published", 180)

# The address, read from the window.
address = label_matching("the address", r"[a-z2-7]{56}\.onion")
shot("5-sharing")
say("ADDRESS=" + address)
wait_for("the test to fetch the page through Tor", lambda: os.path.exists(GO), 300)

# Disable.
toggle_enable_switch()
app = root.application("tails-server-gui")
wait_for("disabled", lambda: any(showing(n) for n in app.findChildren(lambda n: n.roleName == "label" and n.name == "Off")), 120)
shot("7-disabled")
say("DONE")
