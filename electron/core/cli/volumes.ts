// The volume verbs (volume create/ls/rm/inspect/prune) and `berth restart`. main.ts
// loads this module on demand.
import { ago, formatBytes, table } from '../format';
import { HelperError } from '../helper-client';
import type { VolumeInfo } from '../protocol';
import type { Command } from './args';
import { confirm, each, err, EXIT_BERTH_ERROR, helper, out, writeJson } from './context';

type StorageCommand = Extract<Command, { verb: 'restart' | 'volume create' | 'volume ls' | 'volume rm' | 'volume inspect' | 'volume prune' }>;

export function volumesTable(volumes: VolumeInfo[], now = Date.now()): string {
  return table(
    ['VOLUME NAME', 'KIND', 'CREATED', 'CONTAINERS', 'MOUNTPOINT'],
    volumes.map((v) => [v.name, v.anonymous ? 'anonymous' : 'named', ago(v.created, now), String(v.usedBy.length), v.mountpoint]),
  );
}

export async function runStorageVerb(cmd: StorageCommand): Promise<number> {
  const c = await helper();
  switch (cmd.verb) {
    case 'restart':
      return each(cmd.refs, 'restart', async (ref) => {
        await c.call('container.restart', cmd.timeout === undefined ? { ref } : { ref, timeout: cmd.timeout });
        return ref;
      });
    case 'volume create': {
      const v = await c.call('volume.create', cmd.name === undefined ? {} : { name: cmd.name });
      if (cmd.json) writeJson(v);
      else out(`${v.name}\n`);
      return 0;
    }
    case 'volume ls': {
      const { volumes } = await c.call('volume.list', {});
      if (cmd.json) writeJson(volumes);
      else if (cmd.quiet) out(volumes.map((v) => `${v.name}\n`).join(''));
      else out(volumesTable(volumes));
      return 0;
    }
    case 'volume rm':
      return each(cmd.names, 'volume rm', async (name) => {
        try {
          await c.call('volume.remove', { name });
        } catch (e) {
          if (cmd.force && e instanceof HelperError && e.code === 'not_found') return null;
          throw e;
        }
        return name;
      });
    case 'volume inspect': {
      const found: VolumeInfo[] = [];
      let status = 0;
      for (const name of cmd.names) {
        try {
          found.push(await c.call('volume.inspect', { name }));
        } catch (e) {
          if (!(e instanceof HelperError)) throw e;
          err(`berth: ${e.message}\n`);
          status = EXIT_BERTH_ERROR;
        }
      }
      writeJson(found);
      return status;
    }
    case 'volume prune': {
      const what = cmd.all ? 'all local volumes' : 'anonymous local volumes';
      if (!cmd.force && !(await confirm(`WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue?`))) return 0;
      const r = await c.call('volume.prune', cmd.all ? { all: true } : {});
      if (cmd.json) writeJson(r);
      else out(`${r.removed.map((n) => `Deleted: ${n}\n`).join('')}Total reclaimed space: ${formatBytes(r.reclaimedBytes)}\n`);
      return 0;
    }
  }
}
