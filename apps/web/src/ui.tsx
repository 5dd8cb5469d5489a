import { useEffect, useState, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient, type UseQueryOptions } from '@tanstack/react-query';
import { describeError, gql } from './api';
import type { TypedDocumentString } from './gql/graphql';
import { utc } from './format';

function operationName(document: { toString(): string }): string {
  return /(?:query|mutation)\s+(\w+)/.exec(document.toString())?.[1] ?? document.toString();
}

/** A typed query, cached by operation name and variables (TanStack Query). */
export function useGql<R, V>(
  document: TypedDocumentString<R, V>,
  variables?: V,
  options: Partial<UseQueryOptions<R>> = {},
) {
  return useQuery<R>({
    queryKey: [operationName(document), variables ?? {}],
    queryFn: () => (gql as (d: unknown, v?: unknown) => Promise<R>)(document, variables),
    ...options,
  });
}

/**
 * A typed mutation. After it succeeds every query is refetched, so balances and their "as of"
 * time always show the state after the action.
 */
export function useAction<R, V>(document: TypedDocumentString<R, V>, onDone?: (result: R) => void) {
  const client = useQueryClient();
  return useMutation<R, Error, V>({
    mutationFn: (variables: V) => (gql as (d: unknown, v?: unknown) => Promise<R>)(document, variables),
    onSuccess: async (result) => {
      onDone?.(result);
      await client.invalidateQueries();
    },
  });
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <header className="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export interface Column {
  label: string;
  /** Right-aligned with tabular digits (amounts, counts). */
  num?: boolean;
}

export function Table({
  columns,
  rows,
  footer,
  rowClass,
  caption,
  empty = 'Nothing yet.',
}: {
  columns: Column[];
  rows: ReactNode[][];
  footer?: ReactNode[];
  rowClass?: (index: number) => string | undefined;
  caption?: string;
  empty?: string;
}) {
  return (
    <table>
      {caption && <caption>{caption}</caption>}
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.label} className={c.num ? 'num' : undefined} scope="col">
              {c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 && (
          <tr>
            <td colSpan={columns.length} className="empty">
              {empty}
            </td>
          </tr>
        )}
        {rows.map((row, i) => (
          <tr key={i} className={rowClass?.(i)}>
            {row.map((cell, j) => (
              <td key={j} className={columns[j]?.num ? 'num' : undefined}>
                {cell}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
      {footer && (
        <tfoot>
          <tr>
            {footer.map((cell, j) => (
              <td key={j} className={columns[j]?.num ? 'num' : undefined}>
                {cell}
              </td>
            ))}
          </tr>
        </tfoot>
      )}
    </table>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const { title, message, code } = describeError(error);
  return (
    <div className="error" role="alert" data-code={code}>
      <strong>{title}.</strong> {message}
    </div>
  );
}

export function Done({ children }: { children: ReactNode }) {
  return (
    <div className="done" role="status">
      {children}
    </div>
  );
}

/** Balances carry the business time they were read at (the server's clock, in UTC). */
export function AsOf({ at }: { at: string | null | undefined }) {
  return <p className="as-of">as of {utc(at)}</p>;
}

export function Loading({ what }: { what?: string }) {
  return <p className="muted">Loading{what ? ` ${what}` : ''}…</p>;
}

export function Field({ label, children, hint }: { label: string; children: ReactNode; hint?: string }) {
  return (
    <label className="field">
      <span>{label}</span>
      {children}
      {hint && <small className="muted">{hint}</small>}
    </label>
  );
}

export function Stat({ label, value, unit }: { label: string; value: ReactNode; unit?: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value num">
        {value}
        {unit && <span className="unit"> {unit}</span>}
      </div>
    </div>
  );
}

/**
 * An action that needs a second, deliberate click (and optionally a reason): the first click
 * opens the confirmation, "Confirm" runs it.
 */
export function ConfirmAction({
  label,
  disabled,
  disabledReason,
  needsReason,
  reasonOptional,
  pending,
  onConfirm,
  warning,
}: {
  label: string;
  disabled?: boolean;
  disabledReason?: string;
  needsReason?: boolean;
  reasonOptional?: boolean;
  pending?: boolean;
  onConfirm: (reason: string) => void;
  warning?: string;
}) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  useEffect(() => {
    if (disabled) setOpen(false);
  }, [disabled]);
  if (!open) {
    return (
      <button type="button" disabled={disabled} title={disabled ? disabledReason : undefined} onClick={() => setOpen(true)}>
        {label}
      </button>
    );
  }
  const missingReason = needsReason && !reasonOptional && reason.trim() === '';
  return (
    <div className="confirm" role="group" aria-label={`Confirm ${label.toLowerCase()}`}>
      {warning && <p>{warning}</p>}
      {needsReason && (
        <Field label={reasonOptional ? 'Reason (optional)' : 'Reason'}>
          <input value={reason} onChange={(e) => setReason(e.target.value)} aria-label="Reason" />
        </Field>
      )}
      <button
        type="button"
        className="danger"
        disabled={missingReason || pending}
        onClick={() => {
          onConfirm(reason.trim());
          setOpen(false);
          setReason('');
        }}
      >
        Confirm {label.toLowerCase()}
      </button>
      <button type="button" className="link" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </div>
  );
}

export interface Tab {
  id: string;
  label: string;
  render: () => ReactNode;
}

/** Tabs kept in the URL's hash (#balance), so a page can be linked and reloaded. */
export function Tabs({ tabs }: { tabs: Tab[] }) {
  const current = () => tabs.find((t) => `#${t.id}` === window.location.hash)?.id ?? tabs[0].id;
  const [active, setActive] = useState(current);
  useEffect(() => {
    const onHash = () => setActive(current());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  });
  const tab = tabs.find((t) => t.id === active) ?? tabs[0];
  return (
    <div className="tabs">
      <nav className="tab-list" aria-label="Pages">
        {tabs.map((t) => (
          <a key={t.id} href={`#${t.id}`} aria-current={t.id === tab.id ? 'page' : undefined} onClick={() => setActive(t.id)}>
            {t.label}
          </a>
        ))}
      </nav>
      <div className="tab-panel">{tab.render()}</div>
    </div>
  );
}
