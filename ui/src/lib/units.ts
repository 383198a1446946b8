// Value formatting by unit (the Grafana unit ids dashboards use most).

function trim(n: number, decimals: number | null | undefined, auto = 3): string {
  if (decimals !== null && decimals !== undefined) return n.toFixed(decimals);
  const abs = Math.abs(n);
  if (abs === 0) return '0';
  if (abs >= 100) return n.toFixed(0);
  // about `auto` significant digits, without trailing zeros
  const s = n.toPrecision(auto);
  return String(Number(s));
}

function scaled(v: number, base: number, suffixes: string[], decimals?: number | null): string {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < suffixes.length - 1) {
    x /= base;
    i++;
  }
  return trim(x, decimals) + suffixes[i];
}

function duration(v: number, decimals?: number | null): string {
  const abs = Math.abs(v);
  if (abs === 0) return '0s';
  if (abs < 1e-6) return trim(v * 1e9, decimals) + 'ns';
  if (abs < 1e-3) return trim(v * 1e6, decimals) + 'µs';
  if (abs < 1) return trim(v * 1e3, decimals) + 'ms';
  if (abs < 60) return trim(v, decimals) + 's';
  if (abs < 3600) return trim(v / 60, decimals) + 'm';
  if (abs < 86400) return trim(v / 3600, decimals) + 'h';
  return trim(v / 86400, decimals) + 'd';
}

/** Formats a value for display in the given unit ("short" when unknown). */
export function formatValue(v: number | null | undefined, unit?: string, decimals?: number | null): string {
  if (v === null || v === undefined) return '–';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  switch (unit) {
    case 'none':
      return trim(v, decimals, 6);
    case 'bytes':
    case 'decbytes':
      return unit === 'bytes'
        ? scaled(v, 1024, [' B', ' KiB', ' MiB', ' GiB', ' TiB', ' PiB'], decimals)
        : scaled(v, 1000, [' B', ' kB', ' MB', ' GB', ' TB', ' PB'], decimals);
    case 'bits':
      return scaled(v, 1000, [' b', ' kb', ' Mb', ' Gb', ' Tb'], decimals);
    case 'Bps':
    case 'binBps':
      return scaled(v, 1024, [' B/s', ' KiB/s', ' MiB/s', ' GiB/s', ' TiB/s'], decimals);
    case 's':
      return duration(v, decimals);
    case 'ms':
      return duration(v / 1000, decimals);
    case 'percent':
      return trim(v, decimals) + '%';
    case 'percentunit':
      return trim(v * 100, decimals) + '%';
    case 'reqps':
      return scaled(v, 1000, [' req/s', 'k req/s', 'M req/s', 'G req/s'], decimals);
    case 'ops':
      return scaled(v, 1000, [' ops/s', 'k ops/s', 'M ops/s', 'G ops/s'], decimals);
    default:
      if (Math.abs(v) < 1 && v !== 0 && decimals == null) return trim(v, decimals);
      return scaled(v, 1000, ['', 'k', 'M', 'G', 'T', 'P'], decimals);
  }
}

export const UNITS: readonly string[] = [
  'short', 'none', 'bytes', 'decbytes', 'bits', 'Bps', 's', 'ms', 'percent', 'percentunit', 'reqps', 'ops',
];
