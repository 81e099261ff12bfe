// Builds Tether's one native addon, native/unixcred (the Unix sockets' peer credentials, for the node
// agent's attested origins), with node-gyp: the one npm bundles (npm puts it on the PATH of scripts).
// Against the running Node's own headers (<prefix>/include/node, shipped with every Node install) unless
// npm is told another nodedir: node-gyp would otherwise download them from nodejs.org.
// A machine without a C compiler still builds the rest: the node agent then says the sockets'
// credentials are off and takes origins as clients claim them (scripts/system-packages installs
// python3, make and g++: `addon`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
const prefix = dirname(dirname(process.execPath));
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
const r = spawnSync(cmd, [...args, 'rebuild', '--loglevel=warn', ...(nodedir ? [`--nodedir=${nodedir}`] : []), '-C', 'native/unixcred'], { stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(
    `\nwarning: native/unixcred did not build (${r.error?.message ?? `exit ${r.status}`}): the node agent will run without the Unix sockets' peer credentials (origins as clients claim them). Install a C compiler, make and python3 (scripts/system-packages ensure addon), then npm run build:native.\n`,
  );
}
