// Both workers run the benchmark agent (and the loop probe) as plain JavaScript, as a production deployment would: a
// TypeScript loader in each of stock's job processes would charge it memory it does not need.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Inside the repo, so the emitted modules resolve `@livekit/agents` from its node_modules. */
const OUT = path.join(HERE, '.build');
const SOURCES = [
  'vad-agent.ts',
  'room-vad-agent.ts',
  'tone-tts.ts',
  'session-report.ts',
  'synthetic-speech.ts',
  'stock-worker.ts',
  'loop-probe.ts',
];

export interface BuiltAgent {
  agentPath: string;
  /** The same agent on a real room: joins it and runs its session on the caller's audio. */
  roomAgentPath: string;
  stockWorkerPath: string;
  loopProbePath: string;
}

export function buildAgent(): BuiltAgent {
  mkdirSync(OUT, { recursive: true });
  for (const file of SOURCES) {
    const source = readFileSync(path.join(HERE, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: false,
      },
      fileName: file,
    });
    writeFileSync(path.join(OUT, file.replace(/\.ts$/, '.js')), outputText);
  }
  return {
    agentPath: path.join(OUT, 'vad-agent.js'),
    roomAgentPath: path.join(OUT, 'room-vad-agent.js'),
    stockWorkerPath: path.join(OUT, 'stock-worker.js'),
    loopProbePath: path.join(OUT, 'loop-probe.js'),
  };
}
