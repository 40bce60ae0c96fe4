/**
 * The long sweeps: each takes minutes on the software CPU, so `npm test`
 * leaves them out unless TSVM_SLOW_TESTS=1, which .ci/run sets.
 */
const SLOW = process.env.TSVM_SLOW_TESTS === '1';

/** Whether the long sweep `what` runs; when it doesn't, says how to run it. */
export function slowTestsEnabled(what: string): boolean {
  if (!SLOW) console.log(`${what}: part of the long sweep, runs with TSVM_SLOW_TESTS=1 (as .ci/run does)`);
  return SLOW;
}
