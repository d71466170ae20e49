"""@NAME@: a web page served by lighttpd, published as an onion service.
Written by `tails-server plugin new`; make it yours.

lighttpd runs in a unit the host writes, as a user of its own: Debian's
lighttpd.service starts as root and reads its configuration as root, so
Tails Server runs it only for its own plugins."""

import html

import tails_server as ts

CONFIG = "/etc/@NAME@/lighttpd.conf"
SITE = "/var/www/@NAME@/"
PORT = 8080


class Plugin(ts.Plugin):
    def describe(self):
        return ts.info(
            name="@NAME@",
            name_in_gui="@NAME@",
            description="A web page that says hello",
            documentation="https://redmine.lighttpd.net/projects/lighttpd/wiki",
            icon_name="web-browser",
            client_application="tor-browser",
            client_application_in_gui="Tor Browser",
            unit=ts.host_written_unit("/usr/sbin/lighttpd", ["-D", "-f", CONFIG]),
            default_target_port=PORT,
            default_virtual_port=80,
            persistent_paths=[CONFIG, SITE],
            options=[ts.option.text("greeting", "Greeting", "What the page says", "Hello from @NAME@, through Tor")],
            capabilities=ts.capabilities(packages=["lighttpd"], config_paths=[CONFIG, SITE], ports=[ts.tcp(PORT, "web page (HTTP)")]),
        )

    def validate_option(self, name, value, onion_address):
        if name == "greeting" and len(value) > 200:
            raise ts.invalid("at most 200 characters")

    def configure(self, options):
        print("writing", CONFIG, "and", SITE + "index.html")
        page = '<!doctype html>\n<meta charset="utf-8">\n<h1>%s</h1>\n' % html.escape(options.text("greeting"))
        ts.config.write(SITE + "index.html", page, False)
        ts.config.write(CONFIG, "\n".join([
            "# Written by Tails Server from the @NAME@ service's options; edits are replaced.",
            'server.modules = ("mod_indexfile", "mod_staticfile")',
            'server.document-root = "%s"' % SITE,
            'server.bind = "%s"' % options.text(ts.LISTEN_ADDRESS),
            "server.port = %d" % options.port(ts.TARGET_PORT),
            'server.tag = ""',
            'index-file.names = ("index.html")',
            'mimetype.assign = (".html" => "text/html; charset=utf-8")',
            "",
        ]), False)
        ts.network.open_port(PORT, ts.types.Protocol.TCP)

    def connection_info(self, address, virtual_port, clients, options):
        url = "http://%s/" % address
        return ts.ConnectionText("Open in Tor Browser: %s\n" % url, "Open %s in Tor Browser." % url)


Service = ts.export(Plugin)
