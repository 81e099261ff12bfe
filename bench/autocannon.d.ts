/** autocannon ships no type declarations; `loadgen.ts` types the part it uses. */
declare module 'autocannon';
