/**
 * "Did you mean": the closest known name to a mistyped one, as git and kubectl answer `isue` with
 * `issue`. Optimal string alignment distance (Levenshtein plus adjacent transpositions, so `isuse` and
 * `isseu` are one edit away), with a threshold that grows with the word so short words do not match
 * everything.
 */

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `word`, or undefined when none is close: at most one edit for words of up to
 * four letters, two beyond, or `word` being a prefix of exactly one candidate (`--expir` → `--expiring-within`).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const all = [...new Set(candidates)];
  const limit = w.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of all) {
    const distance = editDistance(w, c.toLowerCase());
    if (distance <= limit && distance < bestDistance) {
      best = c;
      bestDistance = distance;
    }
  }
  if (best !== undefined) return best;
  const prefixed = w.length >= 3 ? all.filter((c) => c.toLowerCase().startsWith(w)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** A user's argument as it may be shown back: control characters escaped, at most 60 characters. */
export function shown(text: string): string {
  // JSON escapes C0 controls; the rest (C1, bidi overrides, line separators) could reorder a terminal line.
  const escaped = JSON.stringify(text)
    .slice(1, -1)
    .replace(
      /[\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  return escaped.length > 60 ? `${escaped.slice(0, 57)}...` : escaped;
}
