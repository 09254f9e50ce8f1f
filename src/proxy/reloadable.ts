/**
 * TLS files the proxy re-reads while it runs (the upstream CA, certificate and key; the listener's
 * certificate and key): on SIGHUP, and when a file changes. The directories are watched, not the files: a
 * rename or a Kubernetes symlink swap replaces the inode. A new file that does not load keeps the old value
 * and is reported; connections already open keep what they were made with.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { causeText, DbtlsError } from '../errors.js';

/** Editors and `kubectl` write in bursts (temp file, rename, symlink swap): one reload per burst. */
const RELOAD_DEBOUNCE_MS = 200;

export interface ReloadEvents<T> {
  reloaded(value: T): void;
  reloadFailed(err: DbtlsError): void;
}

export class Reloadable<T> {
  private value: T;
  private readonly watchers: fs.FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Reads the files (`previous`: the value in use, on a reload); throws a DbtlsError naming the file and the fix. */
    private readonly load: (previous?: T) => T,
    private readonly files: readonly string[],
    private readonly events: ReloadEvents<T>,
  ) {
    this.value = load();
  }

  get current(): T {
    return this.value;
  }

  /** Re-reads the files now; true when the new ones are in use. */
  reload(): boolean {
    try {
      this.value = this.load(this.value);
      this.replaced();
      this.events.reloaded(this.value);
      return true;
    } catch (err) {
      this.events.reloadFailed(
        err instanceof DbtlsError
          ? err
          : new DbtlsError('TLS_MATERIAL_INVALID', `could not reload the TLS files: ${causeText(err)}`, {
              cause: err,
            }),
      );
      return false;
    }
  }

  /** Called after a successful reload, before the event (subclasses drop state of the old value). */
  protected replaced(): void {}

  /** A value made otherwise than from a change of the files (the same files, other parameters). */
  protected replace(value: T): void {
    this.value = value;
    this.replaced();
  }

  watch(): void {
    const dirs = new Map<string, Set<string>>();
    for (const f of this.files) {
      const dir = path.dirname(path.resolve(f));
      const names = dirs.get(dir) ?? new Set<string>();
      names.add(path.basename(f));
      dirs.set(dir, names);
    }
    for (const [dir, names] of dirs) {
      const w = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || names.has(String(name)) || String(name).startsWith('..')) this.schedule();
      });
      w.on('error', () => {});
      this.watchers.push(w);
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reload();
    }, RELOAD_DEBOUNCE_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
  }
}
