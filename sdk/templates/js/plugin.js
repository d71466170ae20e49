// @NAME@: a web page served by lighttpd, published as an onion service.
// Written by `tails-server plugin new`; make it yours.
//
// lighttpd runs in a unit the host writes, as a user of its own: Debian's
// lighttpd.service starts as root and reads its configuration as root, so
// Tails Server runs it only for its own plugins.

import * as ts from './tails-server.js';

const CONFIG = '/etc/@NAME@/lighttpd.conf';
const SITE = '/var/www/@NAME@/';
const PORT = 8080;

const escapeHtml = (text) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

export const service = ts.exportPlugin({
  describe() {
    return ts.info({
      name: '@NAME@',
      nameInGui: '@NAME@',
      description: 'A web page that says hello',
      documentation: 'https://redmine.lighttpd.net/projects/lighttpd/wiki',
      iconName: 'web-browser',
      clientApplication: 'tor-browser',
      clientApplicationInGui: 'Tor Browser',
      unit: ts.hostWrittenUnit({ program: '/usr/sbin/lighttpd', arguments: ['-D', '-f', CONFIG] }),
      defaultTargetPort: PORT,
      defaultVirtualPort: 80,
      persistentPaths: [CONFIG, SITE],
      options: [ts.option.text('greeting', 'Greeting', 'What the page says', 'Hello from @NAME@, through Tor')],
      capabilities: ts.capabilities({ packages: ['lighttpd'], configPaths: [CONFIG, SITE], ports: [ts.tcp(PORT, 'web page (HTTP)')] }),
    });
  },

  validateOption(name, value) {
    if (name === 'greeting' && [...value].length > 200) throw ts.invalid('at most 200 characters');
  },

  configure(options) {
    console.log('writing', CONFIG, 'and', `${SITE}index.html`);
    const page = `<!doctype html>\n<meta charset="utf-8">\n<h1>${escapeHtml(options.text('greeting'))}</h1>\n`;
    ts.config.write(`${SITE}index.html`, page);
    ts.config.write(CONFIG, [
      "# Written by Tails Server from the @NAME@ service's options; edits are replaced.",
      'server.modules = ("mod_indexfile", "mod_staticfile")',
      `server.document-root = "${SITE}"`,
      `server.bind = "${options.text(ts.LISTEN_ADDRESS)}"`,
      `server.port = ${options.port(ts.TARGET_PORT)}`,
      'server.tag = ""',
      'index-file.names = ("index.html")',
      'mimetype.assign = (".html" => "text/html; charset=utf-8")',
      '',
    ].join('\n'));
    ts.network.openPort(PORT, 'tcp');
  },

  connectionInfo(address) {
    const url = `http://${address}/`;
    return { text: `Open in Tor Browser: ${url}\n`, guiText: `Open ${url} in Tor Browser.` };
  },
});
