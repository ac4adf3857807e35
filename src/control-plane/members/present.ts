import type { Invitation, Member } from './schemas.js';
import type { InvitationRow, MemberRow } from './store.js';

const iso = (d: Date | string) => new Date(d).toISOString();

export function presentMember(row: MemberRow): Member {
  return { user_id: row.user_id, role: row.role, email: row.email, name: row.name, joined_at: iso(row.created_at), invited_by: row.invited_by };
}

export function presentInvitation(row: Pick<InvitationRow, 'id' | 'role' | 'email' | 'prefix' | 'invited_by' | 'created_at' | 'expires_at'>, orgSlug: string): Invitation {
  return {
    id: row.id,
    org_slug: orgSlug,
    role: row.role,
    email: row.email,
    prefix: row.prefix,
    expires_at: iso(row.expires_at),
    invited_by: row.invited_by,
    created_at: iso(row.created_at),
  };
}
