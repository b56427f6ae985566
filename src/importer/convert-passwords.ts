import { checkHash } from '../connectors/local/bcrypt-hash.js';
import type { Password } from '../storage/storage.js';
import type { DexPassword } from './dex-model.js';
import { differingFields, type Decision } from './write.js';

// Dex passwords → Latchkey's password database: the same bcrypt hash, so the same password logs in.

export interface ConvertedPassword {
  entity: Password;
  /** Why the hash cannot log anybody in (imported anyway: Dex holds it, and refreshes still work). */
  warning?: string;
}

export function passwordFromDex(d: DexPassword): ConvertedPassword {
  const entity: Password = {
    email: d.email.toLowerCase(),
    hash: d.hash,
    username: d.username,
    ...(d.name !== undefined ? { name: d.name } : {}),
    ...(d.preferredUsername !== undefined ? { preferredUsername: d.preferredUsername } : {}),
    ...(d.emailVerified !== undefined ? { emailVerified: d.emailVerified } : {}),
    userID: d.userID,
    groups: [...d.groups],
  };
  const check = checkHash(d.hash);
  return check.ok ? { entity } : { entity, warning: `${check.reason}; this password cannot log in` };
}

const COMPARED = [
  'hash',
  'username',
  'name',
  'preferredUsername',
  'emailVerified',
  'userID',
  'groups',
] as const;

export function comparePassword(existing: Password, incoming: Password): Decision {
  const norm = (p: Password): Password => ({
    ...p,
    name: p.name || undefined,
    preferredUsername: p.preferredUsername || undefined,
  });
  const fields = differingFields(norm(existing), norm(incoming), COMPARED);
  return fields.length === 0 ? { kind: 'unchanged' } : { kind: 'conflict', fields };
}
