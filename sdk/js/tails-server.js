// Tails Server's plugin SDK for JavaScript (componentize-js).
//
// A plugin module ends with `export const service = ts.exportPlugin({...})`
// and is built with `sdk/js/build`. The SDK gives the Rust and Python SDKs'
// helpers (option specs by kind, option values by name, `invalid`,
// capability records, connection text) and smooths what componentize-js's
// bindings leave sharp: integers are plain numbers (the contract's s64 is a
// BigInt there, and `998n === 998` is false), an `Error` thrown by the
// plugin becomes a `failed` error naming it and where (instead of a trap),
// and `console.log` reaches the host's log (instead of nowhere).

import { log as hostLog } from 'tails:server/log@0.4.0';
import * as hostConfig from 'tails:server/config@0.4.0';
import * as hostNetwork from 'tails:server/network@0.4.0';
import * as hostPackages from 'tails:server/packages@0.4.0';

// Options every service has, which the host derives and gives to `configure`.
export const LISTEN_ADDRESS = 'listen-address';
export const TARGET_PORT = 'target-port';
export const ONION_ADDRESS = 'onion-address';

// How many frames of a stack a `failed` error names: the innermost say where.
const STACK_FRAMES = 6;

/** An error the plugin means: `throw ts.invalid('must be an absolute path')`. */
export class PluginError extends Error {
  constructor(tag, message) {
    super(message);
    this.name = 'PluginError';
    this.tag = tag;
  }
}
export const invalid = (message) => new PluginError('invalid', message);
export const failed = (message) => new PluginError('failed', message);
export const denied = (message) => new PluginError('denied', message);

// --- numbers -----------------------------------------------------------------

/** A contract s64 (BigInt) as a plain number; refuses one it cannot hold exactly. */
function toNumber(value) {
  if (typeof value !== 'bigint') return value;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw failed(`the integer ${value} does not fit a JavaScript number`);
  }
  return Number(value);
}

function toBigInt(value, what) {
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) throw failed(`${what} must be a whole number, not ${value}`);
  return BigInt(value);
}

// --- option specs, by kind ---------------------------------------------------

function spec(name, nameInGui, description, kind, defaultValue, { group = '', masked = false, readOnly = false } = {}) {
  return { name, nameInGui, description, group, kind, default: defaultValue, masked, readOnly };
}

/** Option specs: `ts.option.text('folder', 'Folder', 'What it is', '/var/www/html')`. */
export const option = {
  boolean: (name, nameInGui, description, def, more) =>
    spec(name, nameInGui, description, { tag: 'boolean' }, { tag: 'boolean', val: Boolean(def) }, more),
  text: (name, nameInGui, description, def, more) =>
    spec(name, nameInGui, description, { tag: 'text' }, { tag: 'text', val: String(def) }, more),
  /** Empty by default: the host makes a random one when the service is set up. */
  secret: (name, nameInGui, description, more) =>
    spec(name, nameInGui, description, { tag: 'secret' }, { tag: 'secret', val: '' }, { masked: true, ...more }),
  port: (name, nameInGui, description, def, more) =>
    spec(name, nameInGui, description, { tag: 'port' }, { tag: 'port', val: def }, more),
  integer: (name, nameInGui, description, min, max, def, more) =>
    spec(
      name, nameInGui, description,
      { tag: 'integer', val: { min: toBigInt(min, 'min'), max: toBigInt(max, 'max') } },
      { tag: 'integer', val: toBigInt(def, 'the default') },
      more,
    ),
  choice: (name, nameInGui, description, choices, def, more) =>
    spec(name, nameInGui, description, { tag: 'choice', val: [...choices] }, { tag: 'choice', val: String(def) }, more),
};

// --- option values, by name --------------------------------------------------

/** The options `configure` and `connectionInfo` get, read by name as plain
 *  values (strings, booleans, numbers). */
export class Options {
  constructor(settings) {
    this.values = new Map(settings.map((s) => [s.name, toNumber(s.value.val)]));
  }
  get(name) {
    if (!this.values.has(name)) {
      throw failed(`no option "${name}" (the options: ${[...this.values.keys()].sort().join(', ')})`);
    }
    return this.values.get(name);
  }
  text(name) { return String(this.get(name)); }
  boolean(name) { return Boolean(this.get(name)); }
  integer(name) { return Number(this.get(name)); }
  port(name) { return Number(this.get(name)); }
}

// --- what the plugin asks for ------------------------------------------------

export const tcp = (port, purpose) => ({ port, protocol: 'tcp', purpose });
export const udp = (port, purpose) => ({ port, protocol: 'udp', purpose });

export function capabilities({ packages = [], configPaths = [], ports = [], npmPackages = [] } = {}) {
  return { packages: [...packages], npmPackages: [...npmPackages], configPaths: [...configPaths], ports: [...ports] };
}

/** A unit a granted Debian package ships (`lighttpd.service`). */
export const packagedUnit = (name) => ({ tag: 'packaged', val: name });

/** A unit the host writes and confines (see the contract's `unit-spec`). */
export function hostWrittenUnit({ program, arguments: args = [], environment = [], dataFolders = [], workingFolder, user, setupCommands = [], loginShell = false }) {
  return {
    tag: 'host-written',
    val: {
      program,
      arguments: [...args],
      environment: environment.map(([k, v]) => [k, v]),
      workingFolder,
      user,
      dataFolders: [...dataFolders],
      setupCommands: setupCommands.map((c) => [...c]),
      loginShell,
    },
  };
}

/** What `describe` returns. `documentation`: where a person learns the
 *  service (a URL). */
export function info({
  name, description, documentation, unit, defaultTargetPort, capabilities: caps, options = [],
  nameInGui, clientApplication = '', clientApplicationInGui, defaultVirtualPort, iconName = 'network-server',
  persistentPaths = [],
}) {
  return {
    name, nameInGui, description, clientApplication, clientApplicationInGui, documentation, unit,
    defaultTargetPort, defaultVirtualPort, iconName, persistentPaths: [...persistentPaths], options: [...options],
    capabilities: caps ?? capabilities(),
  };
}

// --- the host's calls, with errors as PluginError ------------------------------

// A refusal from the host arrives as a thrown value carrying the contract's
// error; made a PluginError, it goes back to the host as it came (a `denied`
// stays `denied`) when the plugin does not catch it.
function hostCall(fn) {
  return (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      const error = e?.payload ?? e;
      if (error && typeof error.tag === 'string') throw new PluginError(error.tag, String(error.val));
      throw e;
    }
  };
}

export const config = {
  /** Replace the whole file; `secret` files are readable by their owner only. */
  write: hostCall((path, contents, secret = false) => hostConfig.write(path, contents, secret)),
  /** The file's text, or undefined when it does not exist. */
  read: hostCall((path) => hostConfig.read(path)),
};
export const network = { openPort: hostCall((port, protocol = 'tcp') => hostNetwork.openPort(port, protocol)) };
export const packages = { install: hostCall((names) => hostPackages.install([...names])) };

// --- console → the host's log --------------------------------------------------

function show(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return String(value);
  }
}

function toHost(level) {
  return (...values) => {
    for (const line of values.map(show).join(' ').split('\n')) hostLog(level, line);
  };
}

globalThis.console.log = toHost('info');
globalThis.console.info = toHost('info');
globalThis.console.debug = toHost('debug');
globalThis.console.warn = toHost('warn');
globalThis.console.error = toHost('error');

// --- the plugin ----------------------------------------------------------------

/** Where an error was thrown, one line, innermost last, without the SDK's frames. */
function where(error) {
  const frames = String(error?.stack ?? '')
    .split('\n')
    .map((line) => line.match(/^(.*)@(.*?):(\d+):\d+$/))
    // Not the SDK's frames, nor componentize-js's glue (initializer.js).
    .filter((m) => m && !/(^|\/)(tails-server|initializer)\.js$/.test(m[2]))
    .map(([, fn, file, line]) => `${file.split('/').pop()} line ${line} in ${fn || '(top level)'}`)
    .slice(0, STACK_FRAMES)
    .reverse();
  return frames.join('; ') || '?';
}

/** Run a plugin's method: a PluginError goes to the host as the contract's
 *  error; anything else thrown becomes a `failed` error naming it and where. */
function callInto(method, ...args) {
  try {
    return method(...args);
  } catch (e) {
    if (e instanceof PluginError) throw { tag: e.tag, val: e.message };
    const name = e instanceof Error ? e.name : typeof e;
    const message = e instanceof Error ? e.message : show(e);
    throw { tag: 'failed', val: `the plugin raised ${name}: ${message} (at ${where(e)})` };
  }
}

/** The object componentize-js exports: `export const service = ts.exportPlugin({ describe() {...}, ... })`.
 *
 *  - `describe()` (required): `ts.info({...})`;
 *  - `validateOption(name, value, onionAddress)`: `value` is a plain value;
 *    `throw ts.invalid('...')` to refuse it;
 *  - `configure(options)`: an `Options`; write with `ts.config.write`;
 *  - `connectionInfo(address, virtualPort, clients, options)`: a string for
 *    the terminal, or `{ text, guiText }`. */
export function exportPlugin(plugin) {
  if (typeof plugin?.describe !== 'function') throw new TypeError('a plugin needs describe()');
  return {
    describe: () => callInto(() => plugin.describe()),
    validateOption: (name, value, onionAddress) =>
      callInto(() => plugin.validateOption?.(name, toNumber(value.val), onionAddress)),
    configure: (settings) => callInto(() => plugin.configure?.(new Options(settings))),
    connectionInfo: (request) => {
      try {
        const said = callInto(() =>
          plugin.connectionInfo
            ? plugin.connectionInfo(request.address, request.virtualPort, request.clients, new Options(request.options))
            : `Address: ${request.address} (port ${request.virtualPort})\n`,
        );
        return typeof said === 'object' && said !== null
          ? { text: String(said.text), guiText: String(said.guiText ?? '') }
          : { text: String(said), guiText: String(said) };
      } catch (e) {
        // connection-info has no error in the contract: say it in the text.
        return { text: `(the plugin could not say how to connect: ${e.val ?? e})\n`, guiText: '' };
      }
    },
  };
}
