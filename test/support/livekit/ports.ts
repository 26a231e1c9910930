import dgram from 'node:dgram';
import net from 'node:net';

function canBindTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function canBindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive ports free for both TCP and UDP on 127.0.0.1, from a random base above the
 * ephemeral range's usual start, so parallel runs rarely collide.
 */
export async function freePortRange(
  count: number,
  random: () => number = Math.random,
): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(random() * 10_000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++)
      ok = (await canBindTcp(p)) && (await canBindUdp(p));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found on 127.0.0.1`);
}
