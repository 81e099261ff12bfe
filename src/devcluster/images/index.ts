/**
 * Container images built without a Docker daemon (tooling for `tether image build`, the real node and
 * the tests; not part of Tether's runtime): a rootfs made of layers → an OCI archive.
 */
export { buildImage, defaultImageCacheDir, type BuildImageOptions, type BuiltImage, type BuiltLayer } from './build.js';
export { IMAGE_NAMES, imageSpec, isImageName, tetherImageRef, PAUSE_IMAGE_REF, INTAKE_APP_IMAGE_REF, INTAKE_APP_PORT, NODE_APP_IMAGE_REF, LIB_APP_PORT, type ImageName, type ImageSpec, type ImageConfig } from './catalogue.js';
export type { LayerPlan, LayerEntry } from './layerPlan.js';
