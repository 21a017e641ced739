// Any program: the command and its options, with the tree's root appended.
import type { Engine } from './engine.js';

export const commandEngine: Engine = {
  name: 'command',
  defaultCommand: [],
  needsTree: () => true,
  layoutProblem: (layout) => (layout === 'paths' ? 'the paths layout needs --engine kopia or restic' : null),
  probe: async () => ({}),
  calls: (ctx) => [{ argv: [...ctx.command, ...ctx.options, ctx.root], env: {} }],
  captureStdout: false,
  outcome: (code) => (code === 0 ? 'ok' : 'failed'),
};
