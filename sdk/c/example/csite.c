/* A static web site served by lighttpd, written in C: the web plugin's
 * behaviour, with an option of every kind. Build: sdk/c/build csite.c */

#include "tails_server.h"

#define CONFIG "/etc/lighttpd/lighttpd.conf"
#define PORT 8080

void exports_tails_server_service_describe(exports_tails_server_service_service_info_t *ret) {
    memset(ret, 0, sizeof *ret);
    ret->name = ts_str("csite");
    ret->name_in_gui = (tails_service_option_string_t){true, ts_str("Web Site (C)")};
    ret->description = ts_str("A static web site, served from a folder you choose");
    ret->documentation = ts_str("https://redmine.lighttpd.net/projects/lighttpd/wiki");
    ret->icon_name = ts_str("web-browser");
    ret->client_application = ts_str("tor-browser");
    ret->client_application_in_gui = (tails_service_option_string_t){true, ts_str("Tor Browser")};
    ret->unit.tag = TAILS_SERVER_TYPES_SERVICE_UNIT_PACKAGED;
    ret->unit.val.packaged = ts_str("lighttpd.service");
    ret->default_target_port = PORT;
    ret->default_virtual_port = (tails_service_option_u16_t){true, 80};
    ret->persistent_paths = ts_strings(1, CONFIG);

    ts_option_spec options[] = {
        ts_option_text("folder", "Folder", "The folder whose files are published", "/var/www/html"),
        ts_option_boolean("directory-listing", "List folders", "Show the files of a folder that has no index.html", false),
        ts_option_integer("max-connections", "Connections at most", "How many clients at once", 1, 1000, 50),
        ts_option_choice("charset", "Character set", "What the pages are written in", ts_strings(2, "utf-8", "iso-8859-1"), "utf-8"),
        ts_option_secret("status-password", "Status page password", "Protects /server-status"),
        ts_option_text("motto", "Motto", "Shown nowhere: an option to show what a mistake looks like", ""),
    };
    size_t n = sizeof options / sizeof options[0];
    ret->options.ptr = malloc(sizeof options);
    memcpy(ret->options.ptr, options, sizeof options);
    ret->options.len = n;

    ret->capabilities.packages = ts_strings(1, "lighttpd");
    ret->capabilities.config_paths = ts_strings(1, CONFIG);
    ret->capabilities.ports.ptr = malloc(sizeof(tails_server_types_port_request_t));
    ret->capabilities.ports.ptr[0] = (tails_server_types_port_request_t){PORT, TAILS_SERVER_TYPES_PROTOCOL_TCP, ts_str("web site (HTTP)")};
    ret->capabilities.ports.len = 1;
}

/* A mistake, on purpose: how many characters per connection, divided by
 * a number that is zero. The host says where the plugin stopped. */
__attribute__((noinline)) static int letters_per_connection(int letters, int connections) {
    return letters / connections;
}

bool exports_tails_server_service_validate_option(ts_string *name, exports_tails_server_service_option_value_t *value, ts_string *onion_address, exports_tails_server_service_error_t *err) {
    (void)onion_address;
    if (ts_eq(name, "folder")) {
        ts_string *v = &value->val.text;
        if (v->len == 0 || v->ptr[0] != '/') return ts_invalid(err, "must be an absolute path, e.g. /var/www/site");
        char *folder = ts_cstr(v);
        bool dotdot = strstr(folder, "/../") || (v->len >= 3 && strcmp(folder + v->len - 3, "/..") == 0);
        free(folder);
        if (dotdot) return ts_invalid(err, "must not contain `..`");
        for (size_t i = 0; i < v->len; i++) {
            uint8_t c = v->ptr[i];
            if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) return ts_invalid(err, "must not contain quotes, backslashes or control characters");
        }
    }
    if (ts_eq(name, "max-connections") && value->val.integer % 10 != 0) return ts_invalid(err, "must be a multiple of 10");
    if (ts_eq(name, "motto") && ts_eq(&value->val.text, "divide")) {
        volatile int none = 0;
        return letters_per_connection((int)value->val.text.len, none) >= 0;
    }
    return true;
}

bool exports_tails_server_service_configure(exports_tails_server_service_list_option_setting_t *options, exports_tails_server_service_error_t *err) {
    char *folder = ts_text_of(options, "folder");
    char *listen = ts_text_of(options, "listen-address");
    char *charset = ts_text_of(options, "charset");
    ts_log(TAILS_SERVER_LOG_LEVEL_INFO, "writing %s for %s", CONFIG, folder);
    ts_string conf = ts_format(
        "# Written by Tails Server from the csite service's options; edits are replaced.\n"
        "server.modules = (\"mod_indexfile\", \"mod_dirlisting\", \"mod_staticfile\")\n"
        "server.document-root = \"%s\"\n"
        "server.bind = \"%s\"\n"
        "server.port = %lld\n"
        "server.max-connections = %lld\n"
        "server.username = \"www-data\"\n"
        "server.groupname = \"www-data\"\n"
        "server.tag = \"\"\n"
        "index-file.names = (\"index.html\", \"index.htm\")\n"
        "dir-listing.activate = \"%s\"\n"
        "mimetype.assign = (\".html\" => \"text/html; charset=%s\")\n",
        folder, listen, (long long)ts_number_of(options, "target-port"), (long long)ts_number_of(options, "max-connections"),
        ts_number_of(options, "directory-listing") ? "enable" : "disable", charset);
    free(folder);
    free(listen);
    free(charset);
    bool written = ts_write(CONFIG, (const char *)conf.ptr, false, err);
    free(conf.ptr);
    return written && tails_server_network_open_port(PORT, TAILS_SERVER_TYPES_PROTOCOL_TCP, err);
}

void exports_tails_server_service_connection_info(exports_tails_server_service_connection_request_t *request, exports_tails_server_service_connection_text_t *ret) {
    char *address = ts_cstr(&request->address);
    ts_string url = request->virtual_port == 80 ? ts_format("http://%s/", address) : ts_format("http://%s:%u/", address, request->virtual_port);
    free(address);
    ret->text = ts_format("Open in Tor Browser: %s\n", (const char *)url.ptr);
    ret->gui_text = ts_format("Open <a href=\"%s\">%s</a> in Tor Browser.", (const char *)url.ptr, (const char *)url.ptr);
    free(url.ptr);
}
