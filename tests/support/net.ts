// For the integration and e2e suites: loopback ports, HTTP probes and a slow proxy.
import http from 'node:http';
import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** The status of a GET of url, 0 when nothing answers. */
export function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

export interface TcpProxy {
  /** 127.0.0.1:PORT to connect to instead of the target */
  addr: string;
  close(): void;
}

/**
 * A TCP proxy on loopback to `target` (host:port): for each connection, `relay` moves
 * the bytes between the client's socket (`down`) and the target's (`up`); ends, errors
 * and close() are handled here.
 */
export async function tcpProxy(target: string, relay: (down: net.Socket, up: net.Socket) => void): Promise<TcpProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(port, host);
    sockets.add(down).add(up);
    relay(down, up);
    up.on('end', () => down.end());
    for (const s of [up, down]) {
      s.on('error', () => {
        up.destroy();
        down.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    addr: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** A TCP proxy to `target` (host:port) that passes the replies at about `bytesPerSecond`. */
export function slowProxy(target: string, bytesPerSecond: number): Promise<TcpProxy> {
  return tcpProxy(target, (down, up) => {
    down.pipe(up);
    up.on('data', (chunk: Buffer) => {
      up.pause();
      down.write(chunk);
      setTimeout(() => up.resume(), Math.ceil((chunk.length / bytesPerSecond) * 1000));
    });
  });
}
