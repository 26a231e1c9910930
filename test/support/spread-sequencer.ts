import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { spread } from './spread-order.js';

/** The project whose files each run real rooms on a real LiveKit server. */
export const REAL_SERVER_PROJECT = 'livekit';
/** The project of the one long in-process soak file. */
export const SOAK_PROJECT = 'soak';

/**
 * Vitest's own order (failed first, then longest or largest first, a project at a time), except
 * that the heavy projects' files are spread evenly through the other files of their group. Vitest
 * orders by project name, and hands the files of a group out in that order to one pool: the
 * real-server files would run two at a time, competing for the two cores while the light files
 * waited, and the soak last of all. Spread out, each runs beside files that mostly wait on
 * their child processes.
 */
export class SpreadSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const groups = new Map<number, TestSpecification[]>();
    for (const spec of sorted) {
      const order = spec.project.config.sequence.groupOrder;
      let group = groups.get(order);
      if (!group) groups.set(order, (group = []));
      group.push(spec);
    }
    return [...groups.keys()]
      .sort((a, b) => a - b)
      .flatMap((order) =>
        [SOAK_PROJECT, REAL_SERVER_PROJECT].reduce(
          (specs, project) => spread(specs, (s) => s.project.name === project),
          groups.get(order)!,
        ),
      );
  }
}
