import type { Identity } from '../connector.js';

/** The one user Dex's mock connectors vouch for (reference §6), a fresh copy each time. */
export function kilgoreTrout(): Identity {
  return {
    userID: '0-385-28089-0',
    username: 'Kilgore Trout',
    preferredUsername: 'kilgore',
    email: 'kilgore@kilgore.trout',
    emailVerified: true,
    groups: ['authors'],
  };
}
