// A layer stack drawn as stacked blocks: base at the bottom, height growing with
// size (log scale, with a floor so tiny layers stay clickable).
import type { LayerFacts } from '../../../electron/core/protocol';
import { cleanCreatedBy, formatBytes } from '../lib/fmt';
import { layoutStack } from '../lib/layers';

export interface WritableLayer {
  size: number;
  deleted: number;
  label: string;
}

export interface LayerStackProps {
  layers: readonly LayerFacts[];
  /** the selected layer index, or 'writable' */
  selected: number | 'writable' | null;
  onSelect(which: number | 'writable'): void;
  /** a container's own layer, drawn on top */
  writable?: WritableLayer;
  budget?: number;
}

export function LayerStack({ layers, selected, onSelect, writable, budget }: LayerStackProps) {
  const inputs = layers.map((l) => ({ size: l.unpackedSize }));
  if (writable) inputs.push({ size: writable.size });
  // A short stack for few layers, up to 420px for many.
  const geo = layoutStack(inputs, budget ?? Math.min(420, 90 + 70 * inputs.length));
  const n = layers.length;
  return (
    <div>
      <div className="stack" style={{ height: geo.height }} role="group" aria-label="Layer stack, newest on top" data-testid="layer-stack">
        {geo.blocks.map((b) => {
          if (writable && b.index === n) {
            return (
              <button
                key="writable"
                type="button"
                className="layer-block writable"
                style={{ top: b.y, height: b.height }}
                aria-pressed={selected === 'writable'}
                onClick={() => onSelect('writable')}
                data-testid="layer-writable"
                title="The container’s own writable layer (overlay upper dir)"
              >
                <span className="ix">rw</span>
                <span className="cb">{writable.label}</span>
                {writable.deleted > 0 && <span className="del">−{writable.deleted}</span>}
                <span className="sz">{formatBytes(writable.size)}</span>
              </button>
            );
          }
          const l = layers[b.index];
          return (
            <button
              key={l.digest + b.index}
              type="button"
              className="layer-block"
              style={{ top: b.y, height: b.height }}
              aria-pressed={selected === b.index}
              onClick={() => onSelect(b.index)}
              data-testid="layer-block"
              data-index={b.index}
              title={l.createdBy || l.digest}
            >
              <span className="ix">{b.index}</span>
              <span className="cb">{cleanCreatedBy(l.createdBy) || l.digest.replace(/^sha256:/, '').slice(0, 12)}</span>
              {l.files.deleted > 0 && (
                <span className="del" data-testid="layer-deleted">
                  −{l.files.deleted}
                </span>
              )}
              <span className="sz">{formatBytes(l.unpackedSize)}</span>
            </button>
          );
        })}
      </div>
      <div className="stack-base">base layer · read-only layers below, {writable ? 'the container’s writable layer on top' : 'newest on top'}</div>
    </div>
  );
}
