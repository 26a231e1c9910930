/** Milliseconds between successive marks, the first measured from process start (module loading). */
export class StartupPhases {
  readonly #marks: [string, number][] = [['modules', performance.now()]];

  mark(name: string): void {
    this.#marks.push([name, performance.now()]);
  }

  durations(): Record<string, number> {
    return Object.fromEntries(
      this.#marks.map(([name, at], i) => [
        name,
        Math.round(at - (i === 0 ? 0 : this.#marks[i - 1]![1])),
      ]),
    );
  }
}
