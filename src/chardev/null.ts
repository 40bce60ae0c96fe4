/** `-chardev null`: output is discarded, input never comes. */
import { BaseChardev } from './base.js';

export class NullChardev extends BaseChardev {
  write(): void {}

  async close(): Promise<void> {}
}
