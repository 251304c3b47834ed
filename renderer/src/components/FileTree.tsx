// One directory of a layer at a time (paged), with whiteouts shown as deletions.
import { useEffect, useState } from 'react';

import type { TreeEntry, TreeListing } from '../../../electron/core/protocol';
import { formatBytes, modeString } from '../lib/fmt';
import { errorText, Loading } from './common';

export const TREE_PAGE = 200;

export type TreeLoader = (path: string, offset: number, limit: number) => Promise<TreeListing>;

const CHANGE_LABEL: Record<string, string> = { added: 'added', modified: 'modified', deleted: 'deleted', opaque: 'opaque (hides lower)', unchanged: '' };

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function FileTree({ load, resetKey }: { load: TreeLoader; resetKey: string }) {
  const [path, setPath] = useState('/');
  const [entries, setEntries] = useState<TreeEntry[]>([]);
  const [total, setTotal] = useState(0);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => setPath('/'), [resetKey]);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    load(path, 0, TREE_PAGE).then(
      (r) => {
        if (!live) return;
        setEntries(r.entries);
        setTotal(r.total);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setEntries([]);
        setTotal(0);
        setError(errorText(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [load, path, resetKey]);

  const more = (): void => {
    setLoading(true);
    load(path, entries.length, TREE_PAGE).then(
      (r) => {
        setEntries((e) => [...e, ...r.entries]);
        setTotal(r.total);
        setLoading(false);
      },
      (e: unknown) => {
        setError(errorText(e));
        setLoading(false);
      },
    );
  };

  const parts = path.split('/').filter(Boolean);
  return (
    <div data-testid="file-tree">
      <div className="tree-path" aria-label="Path">
        <button type="button" onClick={() => setPath('/')}>
          /
        </button>
        {parts.map((p, i) => (
          <span key={i}>
            <button type="button" onClick={() => setPath('/' + parts.slice(0, i + 1).join('/'))}>
              {p}
            </button>
            {i < parts.length - 1 ? '/' : ''}
          </span>
        ))}
        <span className="muted small" style={{ marginLeft: 'auto' }}>
          {total} {total === 1 ? 'entry' : 'entries'}
        </span>
      </div>
      {error && <div className="inline-error" style={{ marginTop: 'var(--s2)' }}>{error}</div>}
      {loading && entries.length === 0 ? (
        <Loading what="the directory" />
      ) : (
        <table className="table tree-table" style={{ marginTop: 'var(--s2)' }}>
          <thead>
            <tr>
              <th>Name</th>
              <th>Change</th>
              <th className="right">Size</th>
              <th>Mode</th>
              <th>Owner</th>
            </tr>
          </thead>
          <tbody>
            {path !== '/' && (
              <tr>
                <td className="fname" colSpan={5}>
                  <button type="button" onClick={() => setPath('/' + parts.slice(0, -1).join('/'))}>
                    ..
                  </button>
                </td>
              </tr>
            )}
            {entries.map((e) => (
              <tr key={e.name} className={e.change} data-change={e.change}>
                <td className="fname">
                  {e.type === 'dir' && e.change !== 'deleted' ? (
                    <button type="button" onClick={() => setPath(joinPath(path, e.name))}>
                      {e.name}/
                    </button>
                  ) : (
                    <span>
                      {e.name}
                      {e.type === 'symlink' && e.linkTarget ? <span className="muted"> → {e.linkTarget}</span> : null}
                    </span>
                  )}
                </td>
                <td>
                  <span className={`change ${e.change}`}>{CHANGE_LABEL[e.change] ?? e.change}</span>
                </td>
                <td className="right num small">{e.type === 'file' ? formatBytes(e.size) : ''}</td>
                <td className="mode">{modeString(e.mode, e.type)}</td>
                <td className="num small muted">
                  {e.uid}:{e.gid}
                </td>
              </tr>
            ))}
            {entries.length === 0 && !error && (
              <tr>
                <td colSpan={5} className="muted">
                  This layer changes nothing in this directory.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {entries.length < total && (
        <button type="button" className="btn small" style={{ marginTop: 'var(--s2)' }} onClick={more} disabled={loading}>
          Show {Math.min(TREE_PAGE, total - entries.length)} more of {total - entries.length}
        </button>
      )}
    </div>
  );
}
