import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError, gql } from './api';
import { graphql } from './gql';
import { apiKey, signIn, signOut } from './session';
import { ErrorNote, Field, Loading, useGql } from './ui';
import { StartupPages } from './pages/startup';
import { OperatorPages } from './pages/operator';
import { ProviderPages } from './pages/provider';
import { LenderPages } from './pages/lender';

export const MeQuery = graphql(`
  query Me {
    me {
      id
      name
      role
      status
      createdAt
    }
  }
`);

const ROLE_LABEL: Record<string, string> = { BUYER: 'Startup', SELLER: 'Provider', LENDER: 'Lender', OPERATOR: 'Operator' };

export function App() {
  const [signedIn, setSignedIn] = useState(() => apiKey() !== null);
  const client = useQueryClient();
  const leave = () => {
    signOut();
    client.clear();
    setSignedIn(false);
  };
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  return <Console onSignOut={leave} />;
}

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    signIn(key.trim());
    try {
      await gql(MeQuery);
      onSignedIn();
    } catch (e) {
      signOut();
      setError(e);
    } finally {
      setPending(false);
    }
  };
  return (
    <main className="sign-in">
      <h1>CCX console</h1>
      <p className="muted">The Compute Credit Exchange. Sign in with your organization's API key.</p>
      <form onSubmit={submit} className="card">
        <Field label="API key" hint="Kept in this tab only (session storage) until you sign out.">
          <input type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} required name="apiKey" />
        </Field>
        <button type="submit" disabled={pending || key.trim() === ''}>
          Sign in
        </button>
        <ErrorNote error={error} />
      </form>
      <p className="muted small">
        API explorer: <a href="/graphql">/graphql</a>
      </p>
    </main>
  );
}

function Console({ onSignOut }: { onSignOut: () => void }) {
  const me = useGql(MeQuery);
  if (me.error instanceof ApiError && me.error.code === 'UNAUTHENTICATED') {
    return (
      <main className="sign-in">
        <ErrorNote error={me.error} />
        <button onClick={onSignOut}>Sign in again</button>
      </main>
    );
  }
  if (!me.data) return me.error ? <ErrorNote error={me.error} /> : <Loading what="your organization" />;
  const org = me.data.me;
  return (
    <div className="console">
      <header className="top">
        <span className="brand">CCX</span>
        <span className="who">
          <strong data-testid="org-name">{org.name}</strong> · <span data-testid="role">{ROLE_LABEL[org.role] ?? org.role}</span>
          {org.status !== 'ACTIVE' && <span className={`badge ${org.status.toLowerCase()}`}>{org.status}</span>}
        </span>
        <a href="/graphql" className="small">
          API explorer
        </a>
        <button className="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {org.status === 'PENDING' && <p className="banner">Your organization is waiting for the operator's approval: you can read but not act yet.</p>}
      {org.status === 'SUSPENDED' && <p className="banner">Your organization is suspended: you can read but not act.</p>}
      <main>
        {org.role === 'BUYER' && <StartupPages />}
        {org.role === 'SELLER' && <ProviderPages />}
        {org.role === 'LENDER' && <LenderPages />}
        {org.role === 'OPERATOR' && <OperatorPages />}
      </main>
    </div>
  );
}
