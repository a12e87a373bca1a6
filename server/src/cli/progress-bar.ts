/**
 * A terminal progress line on stderr: a redrawn bar on a TTY, plain periodic lines otherwise
 * (CI logs, pipes), so long work always shows how far it got.
 */
export class ProgressBar {
  private readonly started = Date.now();
  private lastPlain = 0;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  update(done: number, total: number | null, unit = 'images'): void {
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const pct = total ? Math.min(1, done / total) : null;
    const eta = pct !== null && rate > 0 && total ? ` eta ${Math.ceil((total - done) / rate)}s` : '';
    const count = total ? `${done}/${total}` : `${done}`;
    const stats = `${count} ${unit} ${Math.round(rate)}/s${eta}`;
    if (this.tty) {
      const width = 30;
      const bar =
        pct === null
          ? ''
          : `[${'#'.repeat(Math.round(pct * width)).padEnd(width, '.')}] ${(pct * 100).toFixed(0).padStart(3)}% `;
      this.out.write(`\r${this.label} ${bar}${stats}\x1b[K`);
    } else if (Date.now() - this.lastPlain > 1000 || done === total) {
      this.lastPlain = Date.now();
      this.out.write(`${this.label} ${pct === null ? '' : `${(pct * 100).toFixed(0)}% `}${stats}\n`);
    }
  }

  finish(message: string): void {
    this.out.write(`${this.tty ? '\r\x1b[K' : ''}${this.label} ${message}\n`);
  }
}
