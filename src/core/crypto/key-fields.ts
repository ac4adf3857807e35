import type { EnvField } from '../config.js';
import { secretKeyProblem } from './cipher.js';

/** SECRETS_ENCRYPTION_KEY and SECRETS_ENCRYPTION_KEYS_PREVIOUS, as both services parse them. */

/** The current key: strict format and entropy floor (src/core/crypto/cipher.ts), refused at boot with what to do. */
export function secretKeyField(describe: string): EnvField<string | undefined> {
  return {
    describe,
    parse: (raw) => {
      if (raw === undefined) return undefined;
      const problem = secretKeyProblem(raw);
      if (problem !== null) throw new Error(problem);
      return raw;
    },
  };
}

/** Earlier keys decrypt only: the legacy forms are accepted so a weak key can be rotated away, garbage is not. */
export function previousKeysField(describe: string): EnvField<string | undefined> {
  return {
    describe,
    parse: (raw) => {
      if (raw === undefined) return undefined;
      const entries = raw.split(',').map((s) => s.trim());
      entries.forEach((entry, i) => {
        if (entry === '') return;
        const problem = secretKeyProblem(entry, { legacy: true });
        if (problem !== null) throw new Error(`entry ${i + 1} ${problem}`);
      });
      return raw;
    },
  };
}
