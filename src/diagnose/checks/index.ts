/**
 * Every diagnose check, in the order they run and print. One line per check module: add yours here.
 */
import type { Check } from '../check.js';

export const CHECKS: readonly Check[] = [];
