"""A static web site served by lighttpd, written in Python: the web plugin's
behaviour, with an option of every kind."""

import tails_server as ts

CONFIG = "/etc/lighttpd/lighttpd.conf"
PORT = 8080


class Site(ts.Plugin):
    def describe(self):
        return ts.info(
            name="pysite",
            name_in_gui="Web Site (Python)",
            description="A static web site, served from a folder you choose",
            documentation="https://redmine.lighttpd.net/projects/lighttpd/wiki",
            icon_name="web-browser",
            client_application="tor-browser",
            client_application_in_gui="Tor Browser",
            unit=ts.packaged_unit("lighttpd.service"),
            default_target_port=PORT,
            default_virtual_port=80,
            persistent_paths=[CONFIG],
            options=[
                ts.option.text("folder", "Folder", "The folder whose files are published", "/var/www/html"),
                ts.option.boolean("directory-listing", "List folders", "Show the files of a folder that has no index.html", False),
                ts.option.integer("max-connections", "Connections at most", "How many clients at once", 1, 1000, 50),
                ts.option.choice("charset", "Character set", "What the pages are written in", ["utf-8", "iso-8859-1"], "utf-8"),
                ts.option.secret("status-password", "Status page password", "Protects /server-status"),
                ts.option.text("motto", "Motto", "Shown nowhere: an option to show what a mistake looks like", ""),
            ],
            capabilities=ts.capabilities(packages=["lighttpd"], config_paths=[CONFIG], ports=[ts.tcp(PORT, "web site (HTTP)")]),
        )

    def validate_option(self, name, value, onion_address):
        if name == "folder":
            if not value.startswith("/"):
                raise ts.invalid("must be an absolute path, e.g. /var/www/site")
            if ".." in value.split("/"):
                raise ts.invalid("must not contain `..`")
            if any(c in value for c in "\"\\") or not value.isprintable():
                raise ts.invalid("must not contain quotes, backslashes or control characters")
        if name == "max-connections" and value % 10:
            raise ts.invalid("must be a multiple of 10")
        if name == "motto" and value == "divide":
            # A mistake, on purpose: the author sees it as a message.
            return 1 // 0

    def configure(self, options):
        print("writing", CONFIG, "for", options.text("folder"))
        ts.config.write(CONFIG, "\n".join([
            "# Written by Tails Server from the pysite service's options; edits are replaced.",
            'server.modules = ("mod_indexfile", "mod_dirlisting", "mod_staticfile")',
            'server.document-root = "%s"' % options.text("folder"),
            'server.bind = "%s"' % options.text(ts.LISTEN_ADDRESS),
            "server.port = %d" % options.port(ts.TARGET_PORT),
            "server.max-connections = %d" % options.integer("max-connections"),
            'server.username = "www-data"',
            'server.groupname = "www-data"',
            'server.tag = ""',
            'index-file.names = ("index.html", "index.htm")',
            'dir-listing.activate = "%s"' % ("enable" if options.boolean("directory-listing") else "disable"),
            'mimetype.assign = (".html" => "text/html; charset=%s")' % options.text("charset"),
            "",
        ]), False)
        ts.network.open_port(PORT, ts.types.Protocol.TCP)

    def connection_info(self, address, virtual_port, clients, options):
        url = "http://%s/" % address if virtual_port == 80 else "http://%s:%d/" % (address, virtual_port)
        return ts.ConnectionText("Open in Tor Browser: %s\n" % url, 'Open <a href="%s">%s</a> in Tor Browser.' % (url, url))


Service = ts.export(Site)
