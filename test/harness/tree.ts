/** A directory tree as one digest, to show that a refused command changed nothing under it. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every file and directory under `dir`: name, mode and bytes (a FIFO or a link by its name and mode only). */
export function hashTree(dir: string): string {
  const h = createHash('sha256');
  for (const rel of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const st = fs.lstatSync(path.join(dir, rel));
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isFile()) h.update(fs.readFileSync(path.join(dir, rel)));
  }
  return h.digest('hex');
}
