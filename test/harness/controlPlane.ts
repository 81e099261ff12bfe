// The real control plane the tests run against is the same one `tether dev` starts: one implementation.
export * from '../../src/devcluster/controlPlane.js';
export { impersonatingKubeConfig, tokenKubeConfigFor } from '../../src/devcluster/kubeconfigs.js';
