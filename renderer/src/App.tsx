import { useEffect } from 'react';

import { ago, formatBytes, quoteCommand, statusText, truncate } from '../../electron/core/format';
import type { ContainerInfo, ImageSummary } from '../../electron/core/protocol';
import { useBerth } from './store';

function dotClass(c: ContainerInfo): string {
  if (c.status === 'running') return 'dot running';
  if (c.status === 'created') return 'dot created';
  return c.exitCode === 0 ? 'dot exited' : 'dot failed';
}

function Containers({ containers, now }: { containers: ContainerInfo[]; now: number }) {
  if (containers.length === 0) {
    return (
      <p className="empty">
        No containers yet — run one with <code>berth run -it busybox sh</code>
      </p>
    );
  }
  const sorted = [...containers].sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
  return (
    <table>
      <thead>
        <tr>
          <th>Name</th>
          <th>Image</th>
          <th>Command</th>
          <th>Status</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((c) => (
          <tr key={c.id}>
            <td>
              <span className="name">{c.name}</span>
              <span className="muted mono"> {c.shortId}</span>
            </td>
            <td className="mono">{c.image}</td>
            <td className="mono" title={quoteCommand(c.command)}>
              {truncate(quoteCommand(c.command), 40)}
            </td>
            <td>
              <span className={dotClass(c)} aria-hidden="true" />
              {statusText(c, now)}
            </td>
            <td className="muted">{ago(c.created, now)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** "1 image", "3 images" */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function Images({ images, now }: { images: ImageSummary[]; now: number }) {
  if (images.length === 0) {
    return (
      <p className="empty">
        No images yet — <code>berth run busybox true</code> makes the default one, <code>berth import rootfs.tar NAME</code> adds your own
      </p>
    );
  }
  return (
    <table>
      <thead>
        <tr>
          <th>Reference</th>
          <th>ID</th>
          <th>Size</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {images.map((i) => (
          <tr key={i.id}>
            <td className="mono">{i.refs.length > 0 ? i.refs.join(', ') : '<none>'}</td>
            <td className="mono muted">{i.id.replace(/^sha256:/, '').slice(0, 12)}</td>
            <td>{formatBytes(i.size)}</td>
            <td className="muted">{ago(i.created, now)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function App() {
  const { containers, images, error, now, connect } = useBerth();
  useEffect(() => connect(), [connect]);
  const running = containers?.filter((c) => c.status === 'running').length ?? 0;
  return (
    <div className="page">
      <header>
        <h1>Berth</h1>
        <span className="muted">{containers ? `${running} running · ${count(containers.length, 'container')} · ${count(images?.length ?? 0, 'image')}` : 'connecting…'}</span>
      </header>
      {error && <div className="error">{error}</div>}
      <section>
        <h2>Containers</h2>
        {containers ? <Containers containers={containers} now={now} /> : <p className="empty">Loading…</p>}
      </section>
      <section>
        <h2>Images</h2>
        {images ? <Images images={images} now={now} /> : <p className="empty">Loading…</p>}
      </section>
    </div>
  );
}
