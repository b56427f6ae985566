// One jest configuration for the whole repository: ESM TypeScript through ts-jest, run by
// `npm test` as `node --experimental-vm-modules` (jose, openid-client and client-node are ESM-only).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  // Suites that start control planes or servers run serially inside their own file; files run in parallel.
  maxWorkers: 2,
};
