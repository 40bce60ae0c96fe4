/**
 * Gives the worker's event loop a turn after each test. Vitest runs one test
 * after another without one, so a file of synchronous tests (spawnSync of
 * qemu-img, say) blocks its worker for all of them together; the worker's
 * RPC calls to vitest time out after 60 s however quickly they were answered
 * (Node runs expired timers before it reads the answer), and the run exits 1
 * with every test passed.
 */
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
