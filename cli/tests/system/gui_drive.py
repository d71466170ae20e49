"""Drive tails-server-gui as a person would, inside a systemd test host under
Xvfb: found through the accessibility tree (dogtail), pressed through it where
GTK offers the action, clicked and typed into with the X server's test
extension (xdotool) where a person's mouse and keyboard are needed (GTK 4.8
takes no keyboard input through AT-SPI). Run by the `gui` system test:
python3 gui_drive.py SHOTS_DIR PLUGIN_FILE SITE_FOLDER.

At each checkpoint it prints `CHECK NAME [VALUE]` and waits (bounded) for the
test to make /tmp/ok-NAME once it has checked what the window claims (the
address published, the key fetching the page through Tor, a client added or
gone). Every wait is bounded; a failure prints what the window showed and
saves a screenshot."""

import os
import subprocess
import sys
import time

from dogtail import config

config.config.searchCutoffCount = 3
config.config.defaultDelay = 0.1
config.config.logDebugToFile = False
from dogtail.tree import root  # noqa: E402

SHOTS, PLUGIN, SITE = sys.argv[1], sys.argv[2], sys.argv[3]


def shot(name, crop=None):
    # With no window manager the window sits at the screen's origin.
    cut = ["-crop", crop, "+repage"] if crop else []
    subprocess.run(["import", "-window", "root", *cut, os.path.join(SHOTS, name + ".png")], check=True, timeout=30)


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


# AT-SPI's role names as Debian 12 said them, and what Debian 13 (GTK 4.18,
# at-spi2-core 2.56) says for the same widgets.
ROLE_ALIASES = {"push button": ("push button", "button"), "check box": ("check box", "switch"), "text": ("text", "entry")}


def has_role(n, role):
    try:
        return n.roleName in ROLE_ALIASES.get(role, (role,))
    except Exception:
        return False


def named(n, name):
    # GTK 4.8 says a button's own label after the name it was given, and a
    # dialog's response with its mnemonic ("_Add Add").
    return n.name in (name, "_%s %s" % (name, name)) or (n.name or "").startswith(name + " ")


def node(role, name, timeout=60):
    app = root.application("tails-server-gui")
    return wait_for("%s %r" % (role, name), lambda: next((n for n in app.findChildren(lambda n: has_role(n, role) and named(n, name)) if showing(n)), None), timeout)


def label_with(text, timeout=60):
    app = root.application("tails-server-gui")
    return wait_for("a label with %r" % text, lambda: next((n for n in app.findChildren(lambda n: n.roleName == "label" and text in (n.name or "")) if showing(n)), None), timeout)


def click(role, name, timeout=60):
    # The one that can be clicked (a menu button holds a button of its name).
    app = root.application("tails-server-gui")
    def find():
        found = [n for n in app.findChildren(lambda n: has_role(n, role) and named(n, name)) if showing(n) and "click" in n.actions]
        # The exact name first: "Add" is the dialog's, not "Add drop Add".
        # A dialog's response is said with its mnemonic: "_Add Add".
        exact = [n for n in found if n.name in (name, "_%s %s" % (name, name))]
        return exact[0] if exact else (found[0] if len(found) == 1 else None)

    found = wait_for("%s %r to click" % (role, name), find, timeout)
    found.doActionNamed("click")


def press(name, timeout=60):
    """A control of any role named `name`, pressed through its own action
    (a toggle button's is not called "click" by every GTK)."""
    app = root.application("tails-server-gui")
    found = wait_for("%r to press" % name, lambda: next((n for n in app.findChildren(lambda n: named(n, name)) if showing(n) and n.actions), None), timeout)
    found.doActionNamed(list(found.actions)[0])


def gone(role, name, timeout=60):
    app = root.application("tails-server-gui")
    wait_for("%s %r to go" % (role, name), lambda: not any(showing(n) for n in app.findChildren(lambda n: has_role(n, role) and named(n, name))), timeout)


def label_matching(what, pattern, timeout=60):
    import re

    app = root.application("tails-server-gui")
    return wait_for(what, lambda: next((n.name for n in app.findChildren(lambda n: n.roleName == "label" and re.fullmatch(pattern, n.name or "")) if showing(n)), None), timeout)


def xdo(*args):
    subprocess.run(["xdotool", *args], check=True, timeout=30)


def xclick(node):
    """A mouse click at the middle of `node`. With no window manager every
    window sits at the screen's origin, so the accessibility tree's window
    coordinates are the screen's; the pointer then stays over that window,
    which gives it the keyboard (X's focus follows the pointer)."""
    (x, y), (w, h) = node.position, node.size
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        fail("%s %r is not on screen (%s, %s, %sx%s)" % (node.roleName, node.name, x, y, w, h))
    xdo("mousemove", "--sync", str(x + w // 2), str(y + h // 2))
    time.sleep(0.2)
    xdo("click", "1")
    time.sleep(0.3)


def type_into(role, name, text):
    """Click into a field, select what it holds, type `text`, press Enter."""
    xclick(node(role, name))
    xdo("key", "ctrl+a")
    xdo("type", "--delay", "30", text)
    xdo("key", "Return")


def clipboard():
    # Another X client reads the clipboard the window owns.
    out = subprocess.run(["xclip", "-selection", "clipboard", "-o"], capture_output=True, text=True, timeout=30)
    return out.stdout if out.returncode == 0 else None


def checkpoint(name, value=""):
    say(("CHECK %s %s" % (name, value)).rstrip())
    ok = "/tmp/ok-" + name
    wait_for("the test to check %s" % name, lambda: os.path.exists(ok), 300)


CONTROLS = ("push button", "toggle button", "check box", "text", "password text", "spin button", "combo box", "menu item")


def every_control_named(screen):
    """Every control a person can reach on this screen has a name assistive
    technology can say (not empty, not a GTK class name)."""
    app = root.application("tails-server-gui")
    unnamed = ["%s %r (in %s %r, in %s %r)" % (n.roleName, n.name, n.parent.roleName, n.parent.name, n.parent.parent.roleName, n.parent.parent.name) for n in app.findChildren(lambda n: any(has_role(n, c) for c in CONTROLS)) if showing(n) and (not (n.name or "").strip() or n.name.startswith("Gtk"))]
    if unnamed:
        fail("controls without an accessible name on %s: %s" % (screen, ", ".join(unnamed)))


def toggle_enable_switch():
    # GTK 4.8 says a switch is a check box, whose action is "toggle".
    app = root.application("tails-server-gui")
    switch = wait_for("the enable switch", lambda: next((n for n in app.findChildren(lambda n: has_role(n, "check box") and named(n, "Enable web")) if showing(n)), None))
    # Said for a failure's sake: a switch already on would be turned off.
    print("the enable switch was %s" % ("on" if getattr(switch, "checked", False) else "off"), flush=True)
    switch.doActionNamed("toggle")


app = wait_for("the window", lambda: root.application("tails-server-gui"), 60)
# The whole screen: every row of a service's page in view.
xdo("search", "--sync", "--name", "^Tails Server$", "windowsize", "1000", "1100")

# The services list: nothing added yet, the shipped services offered.
label_with("Your services")
node("push button", "Add web")
shot("1-services")
every_control_named("the services list")

# Add web from its file, as a plugin someone gave: the file chooser, the
# file picked, then the consent dialog, refusing nothing.
xclick(label_with("Add a plugin from a file…"))
label_with("Tails Server plugins (.wasm)")
# Home in the chooser's places, the file chosen with the mouse, then Open.
# (A typed path is mangled by GTK 4.18's location entry: its inline
# completion lands after the typed text.)
xclick(label_with("Home"))
xclick(node("label", os.path.basename(PLUGIN)))
time.sleep(0.5)
shot("2-chooser")
click("push button", "Open")
label_with("Add web?")
label_with("sha256: ")
label_with("install the Debian package lighttpd")
shot("2-consent")
click("push button", "Add")

# Its page, with its options rendered from their specs.
label_with("Web Site")
node("text", "Folder")
shot("3-service")
every_control_named("the service's page")

# Its folder: a system folder is refused with the plugin's words beside the
# field; then the person's own folder is taken.
type_into("text", "Folder", "/etc")
label_with("must be a folder of web pages", 60)
shot("3-refused")
type_into("text", "Folder", SITE)
wait_for("the refusal to go", lambda: not any(showing(n) for n in root.application("tails-server-gui").findChildren(lambda n: n.roleName == "label" and "must be a folder of web pages" in (n.name or ""))), 60)
checkpoint("folder", SITE)

# Enable it: the steps, then published.
toggle_enable_switch()
label_with("✓ packages", 120)
shot("4-enabling")
label_with("On · published", 180)

# The address and the first client's key, read from the window: the key
# revealed, then copied.
address = label_matching("the address", r"[a-z2-7]{56}\.onion")
press("Reveal default's key")
key = label_matching("the revealed key", r"[A-Z2-7]{52}")
shot("5-sharing")
every_control_named("the service's page, enabled")
click("push button", "Copy default's key")
copied = wait_for("the key on the clipboard", lambda: (clipboard() or "").strip() or None, 30)
if copied != key:
    fail("the clipboard holds %r, the window showed %r" % (copied, key))
say("ADDRESS=" + address)
checkpoint("fetched", key)

# 360 pixels wide, as on a small laptop screen: the window's breakpoint
# puts each client's QR code, file and remove buttons in a menu, and every
# control left is inside the window.
xdo("search", "--sync", "--name", "^Tails Server$", "windowsize", "360", "900")
more = wait_for("the narrow layout's menu", lambda: next((n for n in root.application("tails-server-gui").findChildren(lambda n: named(n, "More for default")) if showing(n)), None), 30)
gone("push button", "Remove client default", 30)
for control in (node("toggle button", "Reveal default's key"), node("push button", "Copy default's key"), more):
    (x, _), (w, _) = control.position, control.size
    if x < 0 or x + w > 360:
        fail("%s %r is outside a 360 px window (x %s, width %s)" % (control.roleName, control.name, x, w))
every_control_named("the service's page, 360 px wide")
shot("5-narrow", "360x900+0+0")
xdo("search", "--sync", "--name", "^Tails Server$", "windowsize", "1000", "1100")
node("push button", "Remove client default", 30)

# The plugin's own words on connecting, its markup taken out.
xclick(label_with("How to connect"))
label_with("Open http://%s/ in Tor Browser." % address, 30)

# A second client: added by name, then removed.
type_into("text", "Add a client: a name for who will connect", "friend")
label_with("Client friend", 60)
shot("6-clients")
checkpoint("added", "friend")
click("push button", "Remove client friend")
label_with("Remove friend?")
click("push button", "Remove")
gone("label", "Client friend", 60)
checkpoint("removed", "friend")

# Disable.
toggle_enable_switch()
app = root.application("tails-server-gui")
wait_for("disabled", lambda: any(showing(n) for n in app.findChildren(lambda n: n.roleName == "label" and n.name == "Off")), 120)
shot("7-disabled")

# Back to the list from the keyboard (Alt+Left), where web is listed, off.
xdo("key", "alt+Left")
label_with("Your services")
wait_for("web listed, off", lambda: any(showing(n) for n in app.findChildren(lambda n: n.roleName == "label" and n.name == "Off")), 30)
gone("push button", "Add web", 30)
say("DONE")
