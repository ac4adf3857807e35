import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { cp } from '../api';
import { useMe } from '../account';
import { useRouter } from '../router';
import { Empty, ErrorView, Loading, TypedConfirm } from '../ui';
import { CopyOnce, fmtTime, useOrg } from './shared';

type Role = 'owner' | 'admin' | 'member';
const ROLES: Role[] = ['member', 'admin', 'owner'];

/** The roles `actor` may hand out (the server's rule: only an owner grants or invites an owner). */
const grantable = (actor: Role | undefined): Role[] => (actor === 'owner' ? ROLES : actor === 'admin' ? ['member', 'admin'] : []);

interface Member {
  user_id: string;
  role: Role;
  email: string | null;
  name: string | null;
  joined_at: string;
}

/** Members, with invite / role / remove controls for owners and admins; everyone else reads. */
export function Members({ slug }: { slug: string }) {
  const org = useOrg(slug);
  const me = useMe();
  const myRole = org.data?.role;
  const manage = myRole === 'owner' || myRole === 'admin';
  const members = useQuery({
    queryKey: ['members', slug],
    queryFn: async () => (await cp.GET('/api/v1/orgs/{slug}/members', { params: { path: { slug } } })).data!,
  });
  const [removing, setRemoving] = useState<Member | null>(null);
  return (
    <>
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      {!manage && org.data ? <p className="muted">Your role is {myRole}: only owners and admins manage members.</p> : null}
      {members.isPending ? <Loading what="members" /> : null}
      {members.isError ? <ErrorView error={members.error} title="Could not list members" /> : null}
      {members.data && members.data.members.length === 0 ? <Empty>No members.</Empty> : null}
      {members.data && members.data.members.length > 0 ? (
        <ul className="list">
          {members.data.members.map((m) => (
            <MemberRow key={m.user_id} slug={slug} member={m} myRole={myRole} self={m.user_id === me.data?.user_id} manage={manage} onRemove={() => setRemoving(m)} />
          ))}
        </ul>
      ) : null}
      {removing ? <RemoveMember slug={slug} member={removing} self={removing.user_id === me.data?.user_id} onClose={() => setRemoving(null)} /> : null}
    </section>
    {manage ? <Invitations slug={slug} myRole={myRole!} /> : null}
    </>
  );
}

function MemberRow({ slug, member, myRole, self, manage, onRemove }: { slug: string; member: Member; myRole: Role | undefined; self: boolean; manage: boolean; onRemove: () => void }) {
  const qc = useQueryClient();
  const label = member.email ?? member.name ?? member.user_id;
  // An admin never touches an owner; the server says so too (403), this only avoids offering it.
  const editable = manage && (myRole === 'owner' || member.role !== 'owner');
  const change = useMutation({
    mutationFn: async (role: Role) => (await cp.PATCH('/api/v1/orgs/{slug}/members/{user_id}', { params: { path: { slug, user_id: member.user_id } }, body: { role } })).data!,
    onSuccess: () => qc.invalidateQueries({ queryKey: ['members', slug] }).then(() => qc.invalidateQueries({ queryKey: ['org', slug] })),
  });
  const options = Array.from(new Set([member.role, ...grantable(myRole)]));
  // Chosen first, saved with the button: arrowing through a closed select must not change the role at each step.
  const [pick, setPick] = useState<Role>(member.role);
  useEffect(() => setPick(member.role), [member.role]);
  return (
    <li className="card member">
      <div className="row">
        <span>
          <strong>{member.name ?? label}</strong> {member.name ? <span className="muted">{member.email}</span> : null} {self ? <span className="badge">you</span> : null}
          <br />
          <span className="muted">Joined {fmtTime(member.joined_at)}</span>
        </span>
        <span className="row">
          {editable ? (
            <form
              className="inline"
              aria-label={`Role of ${label}`}
              onSubmit={(e) => {
                e.preventDefault();
                if (pick !== member.role) change.mutate(pick);
              }}
            >
              <label className="inline">
                <span className="sr-only">Role of {label}</span>
                <select value={pick} disabled={change.isPending} onChange={(e) => setPick(e.target.value as Role)}>
                  {options.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              </label>
              {pick !== member.role ? (
                <button type="submit" className="primary" disabled={change.isPending}>
                  Save role<span className="sr-only"> of {label}</span>
                </button>
              ) : null}
            </form>
          ) : (
            <span className="badge">{member.role}</span>
          )}
          {(manage && editable) || self ? (
            <button type="button" className="danger" onClick={onRemove}>
              {self ? 'Leave' : 'Remove'}
              <span className="sr-only"> {label}</span>
            </button>
          ) : null}
        </span>
      </div>
      {change.isError ? <ErrorView error={change.error} title={`Could not change the role of ${label}`} /> : null}
    </li>
  );
}

/** Removal with the member's email typed back (their user id when they have no email). */
function RemoveMember({ slug, member, self, onClose }: { slug: string; member: Member; self: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const { navigate } = useRouter();
  const expected = member.email ?? member.user_id;
  const remove = useMutation({
    mutationFn: async () => {
      await cp.DELETE('/api/v1/orgs/{slug}/members/{user_id}', { params: { path: { slug, user_id: member.user_id } } });
    },
    onSuccess: async () => {
      if (self) {
        // Gone from the org: back to the list of the ones left.
        await qc.invalidateQueries({ queryKey: ['orgs'] });
        navigate('/orgs');
        return;
      }
      await qc.invalidateQueries({ queryKey: ['members', slug] });
      onClose();
    },
  });
  return (
    <TypedConfirm
      label={`Remove ${expected}`}
      expected={expected}
      inputLabel="Member’s email"
      submitLabel="Remove member"
      busy={remove.isPending}
      error={remove.error}
      errorTitle="Could not remove the member"
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
    >
      {self ? (
        <>
          Leaving ends your access to {slug} at once, and revokes the invitations you sent. Type your email (<strong>{expected}</strong>) to confirm.
        </>
      ) : (
        <>
          Removing <strong>{expected}</strong> ends their access to {slug} at once, and revokes the invitations they sent. Type their email to confirm.
        </>
      )}
    </TypedConfirm>
  );
}

function Invitations({ slug, myRole }: { slug: string; myRole: Role }) {
  const qc = useQueryClient();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [created, setCreated] = useState<{ token: string; email: string | null } | null>(null);
  const list = useQuery({
    queryKey: ['invitations', slug],
    queryFn: async () => (await cp.GET('/api/v1/orgs/{slug}/members/invitations', { params: { path: { slug } } })).data!,
  });
  const invite = useMutation({
    mutationFn: async () => (await cp.POST('/api/v1/orgs/{slug}/members/invitations', { params: { path: { slug } }, body: { role, ...(email.trim() ? { email: email.trim() } : {}) } })).data!,
    onSuccess: async (inv) => {
      setCreated({ token: inv.invite_token, email: inv.email });
      setEmail('');
      await qc.invalidateQueries({ queryKey: ['invitations', slug] });
    },
  });
  const revoke = useMutation({
    mutationFn: async (id: string) => (await cp.DELETE('/api/v1/orgs/{slug}/members/invitations/{id}', { params: { path: { slug, id } } })).data!,
    onSuccess: () => qc.invalidateQueries({ queryKey: ['invitations', slug] }),
  });
  const link = created ? `${window.location.origin}/invitations/accept#token=${encodeURIComponent(created.token)}` : '';
  return (
    <section aria-labelledby="invite-title">
      <h2 id="invite-title">Invitations</h2>
      <form
        className="card form"
        aria-label="Invite a member"
        onSubmit={(e) => {
          e.preventDefault();
          invite.mutate();
        }}
      >
        <label>
          Email (optional)
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} aria-describedby="invite-help" autoComplete="off" />
        </label>
        <p id="invite-help" className="muted">
          With an email, only that person (signed in with it, address verified) can accept. Without, whoever holds the link can.
        </p>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {grantable(myRole).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        {invite.isError ? <ErrorView error={invite.error} title="Could not invite" /> : null}
        <button type="submit" className="primary" disabled={invite.isPending}>
          Invite
        </button>
      </form>
      {created ? (
        <section className="card reveal" aria-labelledby="invite-link-title">
          <h3 id="invite-link-title">Invitation link{created.email ? ` for ${created.email}` : ''}</h3>
          <p className="warning" role="note">
            Copy this link now: it is shown once. Send it to the invitee; it works once, signed in.
          </p>
          <CopyOnce label="Copy link" value={link} testId="invite-link" />
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </section>
      ) : null}
      <h3>Pending</h3>
      {list.isPending ? <Loading what="invitations" /> : null}
      {list.isError ? <ErrorView error={list.error} title="Could not list invitations" /> : null}
      {list.data && list.data.invitations.length === 0 ? <Empty>No pending invitations.</Empty> : null}
      {revoke.isError ? <ErrorView error={revoke.error} title="Could not revoke the invitation" /> : null}
      {list.data && list.data.invitations.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Pending invitations to {slug}</caption>
            <thead>
              <tr>
                <th scope="col">For</th>
                <th scope="col">Role</th>
                <th scope="col">Token</th>
                <th scope="col">Expires</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.invitations.map((i) => (
                <tr key={i.id}>
                  <td>{i.email ?? <span className="muted">anyone with the link</span>}</td>
                  <td>
                    <span className="badge">{i.role}</span>
                  </td>
                  <td>
                    <code>{i.prefix}…</code>
                  </td>
                  <td>{fmtTime(i.expires_at)}</td>
                  <td className="actions">
                    <button type="button" onClick={() => revoke.mutate(i.id)} disabled={revoke.isPending}>
                      Revoke<span className="sr-only"> invitation {i.prefix}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
