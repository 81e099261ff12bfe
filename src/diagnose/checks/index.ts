/**
 * Every diagnose check, in the order they run and print. One line per check module: add yours here.
 */
import type { Check } from '../check.js';
import { aksSelectors } from './aksSelectors.js';
import { labelOnWorkload } from './labelOnWorkload.js';
import { serviceModeLocalService } from './serviceModeLocalService.js';
import { socketModePlatform } from './socketModePlatform.js';
import { uninjectedPods } from './uninjectedPods.js';
import { webhookReachable } from './webhookReachable.js';

export const CHECKS: readonly Check[] = [
  webhookReachable,
  uninjectedPods,
  labelOnWorkload,
  socketModePlatform,
  aksSelectors,
  serviceModeLocalService,
];
