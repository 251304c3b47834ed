// Small line icons (inline SVG, currentColor), so the app needs no icon font.
import type { ReactElement } from 'react';

interface P {
  size?: number;
}
const base = (size: number, children: ReactElement | ReactElement[]): ReactElement => (
  <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={1.8} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true">
    {children}
  </svg>
);

export const BoxIcon = ({ size = 16 }: P) =>
  base(size, [<path key="a" d="M21 8l-9-5-9 5 9 5 9-5z" />, <path key="b" d="M3 8v8l9 5 9-5V8" />, <path key="c" d="M12 13v8" />]);
export const LayersIcon = ({ size = 16 }: P) =>
  base(size, [<path key="a" d="M12 3l9 5-9 5-9-5 9-5z" />, <path key="b" d="M3 13l9 5 9-5" />, <path key="c" d="M3 17.5l9 5 9-5" />]);
export const NetIcon = ({ size = 16 }: P) =>
  base(size, [<circle key="a" cx="12" cy="5" r="2.5" />, <circle key="b" cx="5" cy="19" r="2.5" />, <circle key="c" cx="19" cy="19" r="2.5" />, <path key="d" d="M12 7.5v4M12 11.5l-6 5.5M12 11.5l6 5.5" />]);
export const DiskIcon = ({ size = 16 }: P) =>
  base(size, [<ellipse key="a" cx="12" cy="6" rx="8" ry="3" />, <path key="b" d="M4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6" />, <path key="c" d="M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3" />]);
export const PlayIcon = ({ size = 14 }: P) => base(size, <path d="M7 4.5v15l12-7.5-12-7.5z" />);
export const StopIcon = ({ size = 14 }: P) => base(size, <rect x="6" y="6" width="12" height="12" rx="1.5" />);
export const PauseIcon = ({ size = 14 }: P) => base(size, [<rect key="a" x="6" y="5" width="4" height="14" rx="1" />, <rect key="b" x="14" y="5" width="4" height="14" rx="1" />]);
export const TrashIcon = ({ size = 14 }: P) =>
  base(size, [<path key="a" d="M4 7h16" />, <path key="b" d="M9 7V4h6v3" />, <path key="c" d="M6 7l1 13h10l1-13" />]);
export const BoltIcon = ({ size = 14 }: P) => base(size, <path d="M13 2L4 14h7l-1 8 9-12h-7l1-8z" />);
export const RestartIcon = ({ size = 14 }: P) => base(size, [<path key="a" d="M20 12a8 8 0 1 1-2.34-5.66" />, <path key="b" d="M20 4v5h-5" />]);
export const LinkIcon = ({ size = 14 }: P) => base(size, [<path key="a" d="M14 4h6v6" />, <path key="b" d="M20 4l-9 9" />, <path key="c" d="M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5" />]);
export const PlusIcon = ({ size = 14 }: P) => base(size, <path d="M12 5v14M5 12h14" />);
export const DownloadIcon = ({ size = 14 }: P) => base(size, [<path key="a" d="M12 4v11" />, <path key="b" d="M7 10l5 5 5-5" />, <path key="c" d="M5 20h14" />]);
export const UploadIcon = ({ size = 14 }: P) => base(size, [<path key="a" d="M12 20V9" />, <path key="b" d="M7 14l5-5 5 5" />, <path key="c" d="M5 4h14" />]);
export const SearchIcon = ({ size = 14 }: P) => base(size, [<circle key="a" cx="11" cy="11" r="6.5" />, <path key="b" d="M16 16l4.5 4.5" />]);
export const CloseIcon = ({ size = 14 }: P) => base(size, <path d="M6 6l12 12M18 6L6 18" />);
export const WarnIcon = ({ size = 18 }: P) =>
  base(size, [<path key="a" d="M12 3l10 18H2L12 3z" />, <path key="b" d="M12 10v5" />, <path key="c" d="M12 18h.01" />]);
export const BackIcon = ({ size = 14 }: P) => base(size, <path d="M15 5l-7 7 7 7" />);
export const TerminalIcon = ({ size = 14 }: P) => base(size, [<path key="a" d="M5 8l4 4-4 4" />, <path key="b" d="M12 17h7" />]);
export const KeyboardIcon = ({ size = 14 }: P) =>
  base(size, [<rect key="a" x="2.5" y="6" width="19" height="12" rx="2" />, <path key="b" d="M6 10h.01M10 10h.01M14 10h.01M18 10h.01M7 14h10" />]);

/** Berth's mark: a boat at its berth (a hull over a waterline). */
export const BerthMark = ({ size = 22 }: P) => (
  <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true">
    <rect x="1" y="1" width="22" height="22" rx="6" fill="var(--accent)" />
    <path d="M6 13h12l-2 4H8l-2-4z" fill="var(--accent-text)" />
    <rect x="8" y="8" width="3.2" height="4" rx="0.6" fill="var(--accent-text)" />
    <rect x="12.2" y="6" width="3.2" height="6" rx="0.6" fill="var(--accent-text)" opacity="0.8" />
  </svg>
);
