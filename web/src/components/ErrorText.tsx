import { useT } from "../i18n";

/** An error as the server says it (its messages are meant for people), or a generic one. */
export function ErrorText({ error }: { error: unknown }) {
  const t = useT();
  if (!error) return null;
  const msg = error instanceof Error && error.message ? error.message : t.error;
  return (
    <p className="error" role="alert">
      {msg}
    </p>
  );
}
