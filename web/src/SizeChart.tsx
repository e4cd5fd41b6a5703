/**
 * Backup size over time (bars) and, where records carry it, how long each took (dots on a
 * second scale). Plain SVG: no chart library, no inline styles (the CSP forbids them). The
 * same figures are in a visually hidden table for screen readers.
 */
import type { ConsoleRecord } from './api.js';
import { formatBytes, formatDuration, formatTime } from './format.js';

const W = 640;
const H = 180;
const PAD = { left: 8, right: 8, top: 12, bottom: 20 };
const SHOWN = 30;
/** Widest a slot gets: a few backups are a few bars on the left, not one bar across the chart. */
const MAX_SLOT = 40;

export function SizeChart({ records }: { records: ConsoleRecord[] }) {
  const points = records
    .filter((r) => r.scope !== 'pre-restore')
    .slice(0, SHOWN)
    .reverse();
  if (points.length === 0) return null;
  const maxSize = Math.max(...points.map((r) => r.size_bytes), 1);
  const durations = points.map((r) => r.duration_ms).filter((d): d is number => d !== undefined);
  const maxDuration = Math.max(...durations, 1);
  const slot = Math.min(MAX_SLOT, (W - PAD.left - PAD.right) / points.length);
  const plotH = H - PAD.top - PAD.bottom;
  const summary = `${points.length} backups from ${formatTime(points[0]!.created_at)} to ${formatTime(points[points.length - 1]!.created_at)}; largest ${formatBytes(maxSize)}`;
  return (
    <section class="card" aria-labelledby="chart-title">
      <h2 id="chart-title">Size over time</h2>
      <p class="legend">
        <span class="key size" aria-hidden="true" /> size (largest {formatBytes(maxSize)})
        {durations.length > 0 && (
          <>
            {' '}
            <span class="key duration" aria-hidden="true" /> duration (longest {formatDuration(maxDuration)})
          </>
        )}
      </p>
      <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title chart-desc">
        <desc id="chart-desc">{summary}</desc>
        <line class="axis" x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} />
        {points.map((r, i) => {
          const h = Math.max(1, (r.size_bytes / maxSize) * plotH);
          return (
            <rect key={r.id} class="bar" x={PAD.left + i * slot + slot * 0.15} width={slot * 0.7} y={H - PAD.bottom - h} height={h}>
              <title>{`${formatTime(r.created_at)}: ${formatBytes(r.size_bytes)}`}</title>
            </rect>
          );
        })}
        {points.map((r, i) =>
          r.duration_ms === undefined ? null : (
            <circle
              key={`d-${r.id}`}
              class="dot"
              cx={PAD.left + (i + 0.5) * slot}
              cy={H - PAD.bottom - (r.duration_ms / maxDuration) * plotH}
              r={4}
            >
              <title>{`${formatTime(r.created_at)}: ${formatDuration(r.duration_ms)}`}</title>
            </circle>
          ),
        )}
      </svg>
      <div class="visually-hidden">
        <table>
          <caption>Backup sizes and durations</caption>
          <thead>
            <tr>
              <th scope="col">Created</th>
              <th scope="col">Size</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {points.map((r) => (
              <tr key={r.id}>
                <td>{formatTime(r.created_at)}</td>
                <td>{formatBytes(r.size_bytes)}</td>
                <td>{formatDuration(r.duration_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
