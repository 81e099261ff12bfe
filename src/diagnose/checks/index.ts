/**
 * Every diagnose check, in the order they run and print (issue 10's numbering). One line per check
 * module: add yours here.
 */
import type { Check } from '../check.js';
import { aksSelectors } from './aksSelectors.js';
import { clusterAgentRbac } from './clusterAgentRbac.js';
import { clusterAgentToken } from './clusterAgentToken.js';
import { libInitImages } from './libInitImages.js';
import { labelOnWorkload } from './labelOnWorkload.js';
import { networkPolicyCheck } from './networkPolicy.js';
import { nodeAgentKubeletRbac } from './nodeAgentKubeletRbac.js';
import { serviceModeLocalService } from './serviceModeLocalService.js';
import { socketModePlatform } from './socketModePlatform.js';
import { uninjectedPods } from './uninjectedPods.js';
import { webhookConfigurationCheck } from './webhookConfiguration.js';
import { webhookReachable } from './webhookReachable.js';
import { webhookServiceCheck } from './webhookService.js';

export const CHECKS: readonly Check[] = [
  clusterAgentToken,
  nodeAgentKubeletRbac,
  clusterAgentRbac,
  webhookConfigurationCheck,
  webhookServiceCheck,
  webhookReachable,
  networkPolicyCheck,
  uninjectedPods,
  libInitImages,
  labelOnWorkload,
  socketModePlatform,
  aksSelectors,
  serviceModeLocalService,
];
