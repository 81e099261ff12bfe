// Builds Tether's one native addon, native/unixcred (the Unix sockets' peer credentials, for the node
// agent's attested origins), with node-gyp: the one npm bundles (npm puts it on the PATH of scripts).
// A machine without a C compiler still builds the rest: the node agent then says the sockets'
// credentials are off and takes origins as clients claim them.
import { spawnSync } from 'node:child_process';

const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
const r = spawnSync(cmd, [...args, 'rebuild', '-C', 'native/unixcred'], { stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(
    `\nwarning: native/unixcred did not build (${r.error?.message ?? `exit ${r.status}`}): the node agent will run without the Unix sockets' peer credentials (origins as clients claim them). Install a C compiler, make and python3, then npm run build:native.\n`,
  );
}
