/**
 * What a training run shows while it runs: a progress bar on a terminal (cli-progress: epoch,
 * step, loss, learning rate, tokens/s, ETA) with evaluation lines printed above it, or plain log
 * lines when standard error is not a terminal (CI logs, `nohup`, pipes).
 */
import cliProgress from 'cli-progress';
import { formatCount, formatMetric } from './log.js';

/** `'auto'`: a bar on a TTY, plain lines otherwise. */
export type ProgressMode = 'auto' | 'bar' | 'plain' | 'none';

export interface ProgressValues {
  epoch: number;
  loss: number | null;
  learningRate: number;
  tokensPerSecond: number;
}

export interface ProgressOptions {
  mode?: ProgressMode;
  /** Where lines go (default process.stderr). */
  stream?: NodeJS.WriteStream;
}

export class TrainingProgress {
  readonly mode: 'bar' | 'plain' | 'none';
  readonly #stream: NodeJS.WriteStream;
  #multi: cliProgress.MultiBar | null = null;
  #bar: cliProgress.SingleBar | null = null;

  constructor(options: ProgressOptions = {}) {
    this.#stream = options.stream ?? process.stderr;
    const mode = options.mode ?? 'auto';
    this.mode = mode === 'auto' ? (this.#stream.isTTY ? 'bar' : 'plain') : mode;
  }

  /** Whether plain step lines should be printed (no bar carries the numbers). */
  get plain(): boolean {
    return this.mode === 'plain';
  }

  start(total: number, start: number, values: ProgressValues): void {
    if (this.mode !== 'bar') return;
    this.#multi = new cliProgress.MultiBar({
      stream: this.#stream,
      format: 'ep {ep} |{bar}| {value}/{total} | loss {lossText} | lr {lrText} | {tpsText} tok/s | ETA {eta_formatted}',
      // The line must fit the terminal (cli-progress cuts it otherwise): the bar takes what is left.
      barsize: Math.max(5, Math.min(40, (this.#stream.columns ?? 100) - 76)),
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 4,
      forceRedraw: true,
    });
    this.#bar = this.#multi.create(total, start, this.#payload(values));
  }

  update(step: number, values: ProgressValues): void {
    this.#bar?.update(step, this.#payload(values));
  }

  /** A line above the bar, or a plain line. */
  log(line: string): void {
    if (this.mode === 'none') return;
    if (this.#multi) this.#multi.log(line + '\n');
    else this.#stream.write(line + '\n');
  }

  stop(): void {
    this.#multi?.stop();
    this.#multi = null;
    this.#bar = null;
  }

  #payload(v: ProgressValues): Record<string, string> {
    return {
      ep: v.epoch.toFixed(2),
      lossText: formatMetric(v.loss),
      lrText: v.learningRate.toExponential(1),
      tpsText: v.tokensPerSecond >= 1e4 ? `${(v.tokensPerSecond / 1000).toFixed(1)}k` : formatCount(v.tokensPerSecond),
    };
  }
}

