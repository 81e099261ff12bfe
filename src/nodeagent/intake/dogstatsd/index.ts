/** The DogStatsD intake of the node agent: what the CLI wires (`createDogStatsDIntake`) and its parts. */
export { createDogStatsDIntake, type DogStatsDConfig, type DogStatsDIntake, type DogStatsDIntakeOptions, type DogStatsDIntakeStatus, type FlushListener } from './intake.js';
export type { WindowStats } from './aggregator.js';
export type { DogStatsDCounts, Transport } from './counts.js';
export { PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
export { unixDgramBinding } from './unixgram.js';
