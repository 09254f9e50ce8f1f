/** A renderer that keeps what dbtls would print, for the CLI unit tests. */
import { createRenderer } from '../../../src/cli/render.js';

export function capture(isTTY = false) {
  const out = { stdout: '', stderr: '' };
  const render = createRenderer(
    {
      write: (t) => {
        out.stdout += t;
      },
      isTTY,
    },
    {
      write: (t) => {
        out.stderr += t;
      },
      isTTY,
    },
  );
  return { out, render };
}
