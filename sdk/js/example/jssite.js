// A static web site served by lighttpd, written in JavaScript: the web
// plugin's behaviour, with an option of every kind.

import * as ts from './tails-server.js';

const CONFIG = '/etc/lighttpd/lighttpd.conf';
const PORT = 8080;

export const service = ts.exportPlugin({
  describe() {
    return ts.info({
      name: 'jssite',
      nameInGui: 'Web Site (JavaScript)',
      description: 'A static web site, served from a folder you choose',
      documentation: 'https://redmine.lighttpd.net/projects/lighttpd/wiki',
      iconName: 'web-browser',
      clientApplication: 'tor-browser',
      clientApplicationInGui: 'Tor Browser',
      unit: ts.packagedUnit('lighttpd.service'),
      defaultTargetPort: PORT,
      defaultVirtualPort: 80,
      persistentPaths: [CONFIG],
      options: [
        ts.option.text('folder', 'Folder', 'The folder whose files are published', '/var/www/html'),
        ts.option.boolean('directory-listing', 'List folders', 'Show the files of a folder that has no index.html', false),
        ts.option.integer('max-connections', 'Connections at most', 'How many clients at once', 1, 1000, 50),
        ts.option.choice('charset', 'Character set', 'What the pages are written in', ['utf-8', 'iso-8859-1'], 'utf-8'),
        ts.option.secret('status-password', 'Status page password', 'Protects /server-status'),
        ts.option.text('motto', 'Motto', 'Shown nowhere: an option to show what a mistake looks like', ''),
      ],
      capabilities: ts.capabilities({ packages: ['lighttpd'], configPaths: [CONFIG], ports: [ts.tcp(PORT, 'web site (HTTP)')] }),
    });
  },

  validateOption(name, value) {
    if (name === 'folder') {
      if (!value.startsWith('/')) throw ts.invalid('must be an absolute path, e.g. /var/www/site');
      if (value.split('/').includes('..')) throw ts.invalid('must not contain `..`');
      if (/["\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) throw ts.invalid('must not contain quotes, backslashes or control characters');
    }
    if (name === 'max-connections' && value % 10 !== 0) throw ts.invalid('must be a multiple of 10');
    if (name === 'motto' && value === 'divide') {
      // A mistake, on purpose: the author sees it as a message.
      null.motto.length;
    }
  },

  configure(options) {
    console.log('writing', CONFIG, 'for', options.text('folder'));
    ts.config.write(CONFIG, [
      '# Written by Tails Server from the jssite service\'s options; edits are replaced.',
      'server.modules = ("mod_indexfile", "mod_dirlisting", "mod_staticfile")',
      `server.document-root = "${options.text('folder')}"`,
      `server.bind = "${options.text(ts.LISTEN_ADDRESS)}"`,
      `server.port = ${options.port(ts.TARGET_PORT)}`,
      `server.max-connections = ${options.integer('max-connections')}`,
      'server.username = "www-data"',
      'server.groupname = "www-data"',
      'server.tag = ""',
      'index-file.names = ("index.html", "index.htm")',
      `dir-listing.activate = "${options.boolean('directory-listing') ? 'enable' : 'disable'}"`,
      `mimetype.assign = (".html" => "text/html; charset=${options.text('charset')}")`,
      '',
    ].join('\n'));
    ts.network.openPort(PORT, 'tcp');
  },

  connectionInfo(address, virtualPort) {
    const url = virtualPort === 80 ? `http://${address}/` : `http://${address}:${virtualPort}/`;
    return { text: `Open in Tor Browser: ${url}\n`, guiText: `Open <a href="${url}">${url}</a> in Tor Browser.` };
  },
});
