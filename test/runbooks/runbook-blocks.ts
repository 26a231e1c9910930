/** A shell block of a runbook, with what it must print and the exit code it must end with. */
export interface RunbookStep {
  line: number;
  script: string;
  /** A ```sh fleet block: it runs against a fleet of workers on one Redis, not one worker. */
  fleet: boolean;
  expectOutput: string[];
  expectExit: number;
}

/**
 * Extracts the ```sh blocks of a runbook (```sh fleet for the fleet's), each with the expect
 * comments that follow it.
 */
export function runbookSteps(markdown: string): RunbookStep[] {
  const lines = markdown.split('\n');
  const steps: RunbookStep[] = [];
  let current: RunbookStep | undefined;
  let inBlock = false;
  let body: string[] = [];
  lines.forEach((text, i) => {
    const open = inBlock ? null : /^```sh( fleet)?\s*$/.exec(text);
    if (open) {
      inBlock = true;
      body = [];
      current = {
        line: i + 1,
        script: '',
        fleet: open[1] !== undefined,
        expectOutput: [],
        expectExit: 0,
      };
      return;
    }
    if (inBlock) {
      if (/^```\s*$/.test(text)) {
        inBlock = false;
        current!.script = body.join('\n');
        steps.push(current!);
      } else {
        body.push(text);
      }
      return;
    }
    const expect = /^<!-- expect: (.*) -->$/.exec(text);
    if (expect && current) current.expectOutput.push(expect[1]!);
    const exit = /^<!-- expect-exit: (\d+) -->$/.exec(text);
    if (exit && current) current.expectExit = Number(exit[1]);
    if (/^#/.test(text)) current = undefined;
  });
  return steps;
}
