/**
 * Every diagnose check, in the order they run and print. One line per check module: add yours here.
 */
import type { Check } from '../check.js';
import { networkPolicyCheck } from './networkPolicy.js';
import { webhookConfigurationCheck } from './webhookConfiguration.js';
import { webhookServiceCheck } from './webhookService.js';

export const CHECKS: readonly Check[] = [
  webhookConfigurationCheck,
  webhookServiceCheck,
  networkPolicyCheck,
];
