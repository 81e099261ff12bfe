/** What the DogStatsD benches share: their numeric flags and a free UDP port on loopback. */
import dgram from 'node:dgram';

/** `--name N` from `args`, else `def`. */
export function numberFlag(args: readonly string[], name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
}

/** A UDP port free on 127.0.0.1 now (the intake's port 0 means "off", so it cannot pick one itself). */
export async function freeUdpPort(): Promise<number> {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}
