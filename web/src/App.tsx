/**
 * The console: sign in with an API key, then one page of health, schedule, storage, the size
 * chart and the newest backups, with the actions the key's role allows (`GET
 * /v1/auth/whoami`); the others are shown disabled with the role they need. The daemon
 * still checks every request: the page only spares the operator a 403.
 */
import { useEffect, useState } from 'preact/hooks';
import { Api, ApiFailure, savedToken, saveToken, type WhoAmIResponse } from './api.js';
import { Dashboard } from './Dashboard.js';
import { SignIn } from './SignIn.js';

type Session =
  { state: 'signed-out' } | { state: 'checking' } | { state: 'rejected'; message: string } | { state: 'in'; api: Api; me: WhoAmIResponse };

export function App() {
  const [token, setToken] = useState<string | null>(savedToken());
  const [session, setSession] = useState<Session>(token ? { state: 'checking' } : { state: 'signed-out' });

  useEffect(() => {
    if (!token) {
      setSession({ state: 'signed-out' });
      return;
    }
    const api = new Api(token);
    setSession({ state: 'checking' });
    api.whoami().then(
      (me) => setSession({ state: 'in', api, me }),
      (err: unknown) =>
        setSession(
          err instanceof ApiFailure && err.status === 401
            ? { state: 'rejected', message: err.message }
            : { state: 'rejected', message: err instanceof Error ? err.message : String(err) },
        ),
    );
  }, [token]);

  const signIn = (t: string) => {
    saveToken(t);
    setToken(t);
  };
  const signOut = () => {
    saveToken(null);
    setToken(null);
  };

  switch (session.state) {
    case 'signed-out':
      return <SignIn onSignIn={signIn} />;
    case 'checking':
      return (
        <main class="center">
          <p role="status">Checking the key…</p>
        </main>
      );
    case 'rejected':
      return <Rejected message={session.message} onRetry={signOut} />;
    case 'in':
      return <Dashboard api={session.api} me={session.me} onSignOut={signOut} />;
  }
}

function Rejected({ message, onRetry }: { message: string; onRetry: () => void }) {
  return (
    <main class="center" aria-labelledby="rejected-title">
      <section class="card narrow">
        <h1 id="rejected-title">401 — key not accepted</h1>
        <p>The daemon did not accept this API key: {message}.</p>
        <p>
          Create a key on the host with <code>hoziron key create --role viewer</code>, or ask an administrator for one.
        </p>
        <button type="button" class="primary" onClick={onRetry} autoFocus>
          Sign in with another key
        </button>
      </section>
    </main>
  );
}
