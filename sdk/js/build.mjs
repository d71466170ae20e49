// The build `sdk/js/build` runs: node build.mjs COMPONENTIZE_JS SDK APP.js OUT.wasm
//
// componentize-js reads the plugin's module and the modules it imports from
// one folder; the plugin's folder is copied to a scratch one with the SDK
// beside it, so `import * as ts from './tails-server.js'` finds it.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [componentizeJs, sdk, app, out] = process.argv.slice(2);
const { componentize } = await import(pathToFileURL(componentizeJs));
const scratch = mkdtempSync(join(tmpdir(), 'tails-server-js-'));
try {
  cpSync(dirname(resolve(app)), scratch, { recursive: true, filter: (src) => basename(src) !== 'node_modules' });
  cpSync(join(sdk, 'tails-server.js'), join(scratch, 'tails-server.js'));
  const { component } = await componentize({
    sourcePath: join(scratch, basename(app)),
    witPath: join(sdk, '..', '..', 'wit', 'tails-service.wit'),
    worldName: 'tails-service',
    disableFeatures: ['http', 'fetch-event'],
  });
  writeFileSync(out, component);
  console.log(`${out}: ${(component.length / 1e6).toFixed(1)} MB`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
