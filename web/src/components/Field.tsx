// A labelled form control with its help or error text, tied together for screen readers.
import type { ReactNode } from 'react';

export function Field({
  id,
  label,
  help,
  error,
  children,
}: {
  id: string;
  label: string;
  help?: string;
  error?: string;
  children: ReactNode;
}) {
  const note = error || help;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {note && (
        <small id={`${id}-help`} className={error ? 'invalid' : 'muted'}>
          {note}
        </small>
      )}
    </div>
  );
}
