"""Tails Server's plugin SDK for Python (componentize-py).

A plugin is a subclass of `Plugin`, exported with `Service = export(MyPlugin)`
in the module given to `sdk/python/build`. The SDK gives the same helpers as
the Rust SDK (option specs by kind, option values by name, `invalid`,
capability records, connection text) and keeps a Python mistake from ending
as a bare trap: an uncaught exception becomes a `failed` error carrying the
last lines of its traceback, and `print` and `logging` reach the host's log.
"""

import io
import logging
import sys
import traceback
from typing import Iterable, List, Optional, Sequence

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, log, network, packages, types

__all__ = [
    "Plugin", "export", "invalid", "failed", "Options", "option", "info", "capabilities", "tcp", "udp",
    "packaged_unit", "host_written_unit", "ConnectionText", "config", "network", "packages", "types",
    "LISTEN_ADDRESS", "TARGET_PORT", "ONION_ADDRESS",
]

# Options every service has, which the host derives and gives to `configure`.
LISTEN_ADDRESS = "listen-address"
TARGET_PORT = "target-port"
ONION_ADDRESS = "onion-address"

# How many frames of a traceback a `failed` error names: the host bounds
# what it shows anyway; the innermost say where.
TRACEBACK_LINES = 6

ConnectionText = types.ConnectionText


def invalid(message: str) -> Err:
    """Raise it: `raise invalid("must be an absolute path")`."""
    return Err(types.Error_Invalid(message))


def failed(message: str) -> Err:
    return Err(types.Error_Failed(message))


# --- option specs, by kind ---------------------------------------------------

class option:
    """Option specs: `option.text("folder", "Folder", "What it is", "/var/www/html")`."""

    @staticmethod
    def _spec(name, name_in_gui, description, kind, default, masked=False, group="", read_only=False):
        return types.OptionSpec(name, name_in_gui, description, group, kind, default, masked, read_only)

    @staticmethod
    def boolean(name: str, name_in_gui: str, description: str, default: bool, group: str = "") -> types.OptionSpec:
        return option._spec(name, name_in_gui, description, types.OptionKind_Boolean(), types.OptionValue_Boolean(default), group=group)

    @staticmethod
    def text(name: str, name_in_gui: str, description: str, default: str, group: str = "") -> types.OptionSpec:
        return option._spec(name, name_in_gui, description, types.OptionKind_Text(), types.OptionValue_Text(default), group=group)

    @staticmethod
    def secret(name: str, name_in_gui: str, description: str, group: str = "") -> types.OptionSpec:
        """Empty by default: the host makes a random one when the service is set up."""
        return option._spec(name, name_in_gui, description, types.OptionKind_Secret(), types.OptionValue_Secret(""), masked=True, group=group)

    @staticmethod
    def port(name: str, name_in_gui: str, description: str, default: int, group: str = "") -> types.OptionSpec:
        return option._spec(name, name_in_gui, description, types.OptionKind_Port(), types.OptionValue_Port(default), group=group)

    @staticmethod
    def integer(name: str, name_in_gui: str, description: str, minimum: int, maximum: int, default: int, group: str = "") -> types.OptionSpec:
        return option._spec(name, name_in_gui, description, types.OptionKind_Integer(types.IntegerRange(minimum, maximum)), types.OptionValue_Integer(default), group=group)

    @staticmethod
    def choice(name: str, name_in_gui: str, description: str, choices: Sequence[str], default: str, group: str = "") -> types.OptionSpec:
        return option._spec(name, name_in_gui, description, types.OptionKind_Choice(list(choices)), types.OptionValue_Choice(default), group=group)


# --- option values, by name --------------------------------------------------

class Options:
    """The options `configure` and `connection_info` get, read by name as
    plain Python values (`str`, `bool`, `int`)."""

    def __init__(self, settings: Iterable[types.OptionSetting]):
        self._values = {s.name: s.value.value for s in settings}

    def __getitem__(self, name: str):
        if name not in self._values:
            raise KeyError("no option %r (the options: %s)" % (name, ", ".join(sorted(self._values))))
        return self._values[name]

    def text(self, name: str) -> str:
        return str(self[name])

    def boolean(self, name: str) -> bool:
        return bool(self[name])

    def integer(self, name: str) -> int:
        return int(self[name])

    port = integer


# --- what the plugin asks for ------------------------------------------------

def tcp(port: int, purpose: str) -> types.PortRequest:
    return types.PortRequest(port, types.Protocol.TCP, purpose)


def udp(port: int, purpose: str) -> types.PortRequest:
    return types.PortRequest(port, types.Protocol.UDP, purpose)


def capabilities(packages: Sequence[str] = (), config_paths: Sequence[str] = (), ports: Sequence[types.PortRequest] = (), npm_packages: Sequence[str] = ()) -> types.Capabilities:
    return types.Capabilities(list(packages), list(npm_packages), list(config_paths), list(ports))


def packaged_unit(name: str) -> types.ServiceUnit:
    """A unit a granted Debian package ships (`lighttpd.service`)."""
    return types.ServiceUnit_Packaged(name)


def host_written_unit(program: str, arguments: Sequence[str] = (), environment: Sequence[tuple] = (), data_folders: Sequence[str] = (), working_folder: Optional[str] = None, user: Optional[str] = None, setup_commands: Sequence[Sequence[str]] = (), login_shell: bool = False) -> types.ServiceUnit:
    """A unit the host writes and confines (see the contract's `unit-spec`)."""
    return types.ServiceUnit_HostWritten(types.UnitSpec(program, list(arguments), [tuple(e) for e in environment], working_folder, user, list(data_folders), [list(c) for c in setup_commands], login_shell))


def info(name: str, description: str, documentation: str, unit: types.ServiceUnit, default_target_port: int, capabilities: types.Capabilities, options: Sequence[types.OptionSpec] = (), name_in_gui: Optional[str] = None, client_application: str = "", client_application_in_gui: Optional[str] = None, default_virtual_port: Optional[int] = None, icon_name: str = "network-server", persistent_paths: Sequence[str] = ()) -> types.ServiceInfo:
    """What `describe` returns. `documentation`: where a person learns the
    service (a URL)."""
    return types.ServiceInfo(name, name_in_gui, description, client_application, client_application_in_gui, documentation, unit, default_target_port, default_virtual_port, icon_name, list(persistent_paths), list(options), capabilities)


# --- the plugin ----------------------------------------------------------------

class Plugin:
    """Subclass it; `describe` is required, the rest have defaults."""

    def describe(self) -> types.ServiceInfo:
        raise NotImplementedError("describe() says what the service is")

    def validate_option(self, name: str, value, onion_address: str) -> None:
        """`value` is a plain Python value; `raise invalid("...")` to refuse it."""

    def configure(self, options: Options) -> None:
        """Write the configuration (`config.write`) and open ports (`network.open_port`)."""

    def connection_info(self, address: str, virtual_port: int, clients: List[types.ClientCredential], options: Options):
        """A string for the terminal, or a `ConnectionText` (text, GUI text)."""
        return "Address: %s (port %d)\n" % (address, virtual_port)


class _HostLog(io.TextIOBase):
    """Where `print` goes: the host's log, a line at a time."""

    def __init__(self, level):
        self.level, self.pending = level, ""

    def writable(self):
        return True

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            log.log(self.level, line)
        return len(text)

    def flush(self):
        if self.pending:
            log.log(self.level, self.pending)
            self.pending = ""


class _LogHandler(logging.Handler):
    LEVELS = ((logging.ERROR, log.Level.ERROR), (logging.WARNING, log.Level.WARN), (logging.INFO, log.Level.INFO))

    def emit(self, record):
        level = next((ours for theirs, ours in self.LEVELS if record.levelno >= theirs), log.Level.DEBUG)
        log.log(level, self.format(record))


def _calls_into(method):
    """Run a plugin's method: its output to the host's log, any exception
    but a WIT error turned into a `failed` error with its traceback's last
    lines (instead of a trap that says nothing)."""

    def call(*args):
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _HostLog(log.Level.INFO), _HostLog(log.Level.WARN)
        try:
            return method(*args)
        except Err:
            raise
        except Exception as e:
            # Where, without the source lines: reading a file would go to
            # WASI, which the build stubs out (it would trap).
            # One line (the host shows a line break in a plugin's words
            # escaped): the plugin's own frames, innermost last.
            frames = traceback.StackSummary.extract(traceback.walk_tb(e.__traceback__), lookup_lines=False)
            where = ["%s line %d in %s" % (f.filename.rsplit("/", 1)[-1], f.lineno, f.name) for f in frames if f.filename != __file__][-TRACEBACK_LINES:]
            raise failed("the plugin raised %s: %s (at %s)" % (type(e).__name__, e, "; ".join(where) or "?"))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, sys.stderr = out, err

    return call


def export(plugin_class):
    """The class componentize-py exports: `Service = export(MyPlugin)`."""
    plugin = plugin_class()
    logging.basicConfig(level=logging.DEBUG, handlers=[_LogHandler()], force=True)

    class Service(exports.Service):
        def describe(self):
            return _calls_into(plugin.describe)()

        def validate_option(self, name, value, onion_address):
            return _calls_into(plugin.validate_option)(name, value.value, onion_address)

        def configure(self, options):
            return _calls_into(plugin.configure)(Options(options))

        def connection_info(self, request):
            def text():
                said = plugin.connection_info(request.address, request.virtual_port, request.clients, Options(request.options))
                return said if isinstance(said, types.ConnectionText) else types.ConnectionText(str(said), str(said))

            try:
                return _calls_into(text)()
            except Err as e:
                # connection-info has no error in the contract: say it in the text.
                return types.ConnectionText("(the plugin could not say how to connect: %s)\n" % e.value.value, "")

    return Service
