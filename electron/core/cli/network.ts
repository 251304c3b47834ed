// The network verbs (loaded on demand): network create|ls|rm|inspect and port.
import { table } from '../format';
import { HelperError } from '../helper-client';
import type { NetworkInfo } from '../protocol';
import { each, err, EXIT_BERTH_ERROR, helper, hint, out, writeJson } from './context';
import type { NetworkCommand } from './network-args';

export function networkTable(networks: NetworkInfo[]): string {
  return table(
    ['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'GATEWAY', 'BRIDGE', 'CONTAINERS'],
    networks.map((n) => [n.id.slice(0, 12), n.name, n.driver, n.subnet, n.gateway, `${n.bridge}${n.active ? '' : ' (down)'}`, String(n.containers.length)]),
  );
}

export async function runNetworkVerb(cmd: NetworkCommand): Promise<number> {
  const c = await helper();
  switch (cmd.verb) {
    case 'network create': {
      const n = await c.call('network.create', { name: cmd.name, ...(cmd.subnet ? { subnet: cmd.subnet } : {}), ...(cmd.gateway ? { gateway: cmd.gateway } : {}) });
      out(`${n.id}\n`);
      return 0;
    }
    case 'network ls': {
      const { networks } = await c.call('network.list', {});
      if (cmd.json) writeJson(networks);
      else if (cmd.quiet) out(networks.map((n) => `${n.name}\n`).join(''));
      else out(networkTable(networks));
      return 0;
    }
    case 'network rm':
      return each(cmd.refs, 'network rm', async (ref) => {
        await c.call('network.remove', { ref });
        return ref;
      });
    case 'network inspect': {
      const found: NetworkInfo[] = [];
      let status = 0;
      for (const ref of cmd.refs) {
        try {
          found.push(await c.call('network.inspect', { ref }));
        } catch (e) {
          if (!(e instanceof HelperError)) throw e;
          err(`berth: ${e.message}${hint(e, cmd.verb)} (see berth network ls)\n`);
          status = EXIT_BERTH_ERROR;
        }
      }
      writeJson(found);
      return status;
    }
    case 'port': {
      const info = await c.call('container.inspect', { ref: cmd.ref });
      if (cmd.json) writeJson(info.ports);
      else out(info.ports.map((p) => `${p.containerPort}/${p.protocol} -> ${p.hostIp}:${p.hostPort}\n`).join(''));
      return 0;
    }
  }
}
