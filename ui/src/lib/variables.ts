// Dashboard variables in PromQL expressions: $name and ${name} take the selected values;
// the built-ins $__interval, $__rate_interval and $__range follow Grafana's meaning.
import { formatDuration } from './duration';
import type { Variable } from './model';

/** A value of a variable that stands for every value ("All"). */
export const ALL = '$__all';

export interface VariableValue {
  /** selected values; [] or [ALL] mean All when the variable allows it */
  values: string[];
  multi: boolean;
  includeAll: boolean;
}

/** Escapes RE2 metacharacters so a label value matches itself inside =~ "...". */
export function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Escapes for the inside of a double-quoted PromQL string. */
function stringEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/**
 * The text a variable puts into an expression. A single value of a single-value variable
 * is inserted as is (string-escaped); several values become a regex alternation
 * "(a|b)" (each regex-escaped, then string-escaped); All becomes ".*".
 */
export function formatVariable(v: VariableValue): string {
  const vals = v.values;
  if (vals.length === 0 || vals.includes(ALL)) return v.includeAll || vals.includes(ALL) ? '.*' : '';
  if (!v.multi && !v.includeAll) return stringEscape(vals[0]);
  if (vals.length === 1) return stringEscape(regexEscape(vals[0]));
  return stringEscape(`(${vals.map(regexEscape).join('|')})`);
}

export interface BuiltinContext {
  stepMs: number;
  rangeMs: number;
  scrapeIntervalMs?: number; // assumed 15s, Prometheus' default
}

/**
 * Replaces $name and ${name} in expr. Names not in vars and not built-in stay as written,
 * so a typo shows up in the query error instead of vanishing.
 */
export function substituteVariables(
  expr: string,
  vars: Record<string, VariableValue>,
  ctx?: BuiltinContext,
): string {
  const builtins: Record<string, string> = {};
  if (ctx) {
    const scrape = ctx.scrapeIntervalMs ?? 15_000;
    builtins.__interval = formatDuration(ctx.stepMs);
    builtins.__interval_ms = String(Math.round(ctx.stepMs));
    builtins.__rate_interval = formatDuration(Math.max(ctx.stepMs + scrape, 4 * scrape));
    builtins.__range = formatDuration(ctx.rangeMs);
    builtins.__range_s = String(Math.round(ctx.rangeMs / 1000));
    builtins.__range_ms = String(Math.round(ctx.rangeMs));
  }
  return expr.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced, bare) => {
    const name = braced ?? bare;
    if (name in builtins) return builtins[name];
    const v = vars[name];
    return v ? formatVariable(v) : whole;
  });
}

/** The values a dashboard's variables currently hold, keyed by name. */
export function variableValues(vars: Variable[] | undefined): Record<string, VariableValue> {
  const out: Record<string, VariableValue> = {};
  for (const v of vars ?? []) {
    out[v.name] = { values: v.current ?? [], multi: !!v.multi, includeAll: !!v.includeAll };
  }
  return out;
}
