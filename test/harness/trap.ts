import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A TCP listener that only counts connections: proof that nobody tried to reach it. */
export interface Trap {
  readonly port: number;
  connections(): number;
  stop(): Promise<void>;
}

export async function startTrap(): Promise<Trap> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
