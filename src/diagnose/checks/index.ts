/**
 * Every diagnose check, in the order they run and print. One line per check module: add yours here.
 */
import type { Check } from '../check.js';
import { clusterAgentRbac } from './clusterAgentRbac.js';
import { clusterAgentToken } from './clusterAgentToken.js';
import { nodeAgentKubeletRbac } from './nodeAgentKubeletRbac.js';

export const CHECKS: readonly Check[] = [
  clusterAgentToken,
  nodeAgentKubeletRbac,
  clusterAgentRbac,
];
