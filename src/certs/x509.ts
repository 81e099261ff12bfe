/**
 * The one entry point to @peculiar/x509. Its dependency tsyringe refuses to load without the Reflect
 * metadata API, so the standard polyfill is loaded first (ES modules evaluate in import order).
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
