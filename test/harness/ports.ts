import { createServer } from 'node:net';

/**
 * Asks the OS for a free TCP port on 127.0.0.1 (bind to port 0, read it, close).
 * Prefer letting a program bind port 0 itself when it can report the port; this is for
 * programs that need the port number up front.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: no TCP address'));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
