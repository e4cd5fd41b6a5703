/**
 * The layers of src/, lowest first. A module may import its own layer and any layer below
 * it, never one above: the data of one backup flows command → core → archive → storage,
 * and nothing reaches back up. `npm test` fails on a violation (npm run lint:deps).
 */
const LAYERS = [
  ['base', '^src/(errors|version|printable)\\.ts$'],
  ['fsutil', '^src/fsutil/'],
  ['crypto', '^src/crypto/'],
  ['api', '^src/api/'],
  ['home', '^src/home/'],
  ['stores', '^src/stores/'],
  ['archive', '^src/archive/'],
  ['remote', '^src/remote/'],
  ['backup', '^src/backup/'],
  ['operations', '^src/(admin|doctor)/'],
  ['console', '^src/console/'],
  ['daemon', '^src/daemon/'],
  ['cli', '^src/cli/'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `${name}-imports-upward`,
  comment: `${name} is below ${LAYERS.slice(i + 1)
    .map(([n]) => n)
    .join(', ')}: it must not import them`,
  severity: 'error',
  from: { path },
  to: {
    path: LAYERS.slice(i + 1)
      .map(([, p]) => `(${p})`)
      .join('|'),
  },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'a cycle makes the load order matter and the layers meaningless',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'web-imports-only-api-types',
      comment: 'the console is a client of the daemon: of src/ it may use only the wire types of src/api/',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^src/', pathNot: '^src/api/(types|daemon|restore)\\.ts$' },
    },
    {
      name: 'src-imports-no-web',
      comment: 'the daemon serves the built console from disk (src/console/); it never imports its sources',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^web/' },
    },
    {
      name: 'src-imports-no-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
