/**
 * Where Tether's one native addon is built, relative to the package root (`npm run build:native`,
 * scripts/build-native.mjs): the node agent loads it from there (`nodeagent/intake/attest/credentials.ts`)
 * and the image builders copy it from there (`devcluster/images/layers.ts`, the Dockerfile).
 */
export const UNIXCRED_ADDON_FILE = 'native/unixcred/build/Release/unixcred.node';
