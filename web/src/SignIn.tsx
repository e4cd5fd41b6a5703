/** The sign-in form: one API key, kept in sessionStorage for this tab only. */
import { useState } from 'preact/hooks';

export function SignIn({ onSignIn }: { onSignIn: (token: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main class="center" aria-labelledby="signin-title">
      <form
        class="card narrow"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim() !== '') onSignIn(value.trim());
        }}
      >
        <h1 id="signin-title">Hoziron console</h1>
        <label for="token">API key</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          aria-describedby="token-help"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          autoFocus
        />
        <p id="token-help" class="help">
          A key from <code>hoziron key create</code>. It stays in this tab only and is sent to this daemon alone.
        </p>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
