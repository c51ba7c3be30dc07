// Labelled inputs. Each carries data-field (the API field it edits) so server
// field errors land next to it, and aria-invalid/aria-describedby for readers.

import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';

interface Common {
  label: ReactNode;
  field: string;
  error?: string | undefined;
  hint?: ReactNode;
  className?: string;
}

function Described({ id, error, hint }: { id: string; error?: string | undefined; hint?: ReactNode }) {
  return (
    <>
      {hint && (
        <p className="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p className="field-error" id={`${id}-err`} data-error-for={id}>
          {error}
        </p>
      )}
    </>
  );
}

function describedBy(id: string, error?: string, hint?: ReactNode): string | undefined {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-err` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

type InputProps = Common & Omit<InputHTMLAttributes<HTMLInputElement>, 'onChange' | 'value'> & {
  value: string;
  onValue: (v: string) => void;
};

export function TextField({ label, field, error, hint, className = '', value, onValue, id, ...rest }: InputProps) {
  const auto = useId();
  const fid = id ?? `f${auto.replace(/:/g, '')}`;
  return (
    <div className={`field ${error ? 'has-error' : ''} ${className}`}>
      <label htmlFor={fid}>{label}</label>
      <input
        id={fid}
        name={field}
        data-field={field}
        value={value}
        onChange={(e) => onValue(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(fid, error, hint)}
        {...rest}
      />
      <Described id={fid} error={error} hint={hint} />
    </div>
  );
}

type AreaProps = Common & Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'onChange' | 'value'> & {
  value: string;
  onValue: (v: string) => void;
};

export function TextAreaField({ label, field, error, hint, className = '', value, onValue, id, ...rest }: AreaProps) {
  const auto = useId();
  const fid = id ?? `f${auto.replace(/:/g, '')}`;
  return (
    <div className={`field ${error ? 'has-error' : ''} ${className}`}>
      <label htmlFor={fid}>{label}</label>
      <textarea
        id={fid}
        name={field}
        data-field={field}
        value={value}
        onChange={(e) => onValue(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(fid, error, hint)}
        rows={3}
        {...rest}
      />
      <Described id={fid} error={error} hint={hint} />
    </div>
  );
}

type SelectProps = Common & Omit<SelectHTMLAttributes<HTMLSelectElement>, 'onChange' | 'value'> & {
  value: string;
  onValue: (v: string) => void;
  options: { value: string; label: string }[];
};

export function SelectField({ label, field, error, hint, className = '', value, onValue, options, id, ...rest }: SelectProps) {
  const auto = useId();
  const fid = id ?? `f${auto.replace(/:/g, '')}`;
  return (
    <div className={`field ${error ? 'has-error' : ''} ${className}`}>
      <label htmlFor={fid}>{label}</label>
      <select
        id={fid}
        name={field}
        data-field={field}
        value={value}
        onChange={(e) => onValue(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(fid, error, hint)}
        {...rest}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <Described id={fid} error={error} hint={hint} />
    </div>
  );
}

type CheckProps = Common & { checked: boolean; onChecked: (v: boolean) => void; disabled?: boolean };

export function CheckField({ label, field, error, hint, className = '', checked, onChecked, disabled }: CheckProps) {
  const auto = useId();
  const fid = `f${auto.replace(/:/g, '')}`;
  return (
    <div className={`field field-check ${error ? 'has-error' : ''} ${className}`}>
      <input
        type="checkbox"
        id={fid}
        name={field}
        data-field={field}
        checked={checked}
        disabled={disabled}
        onChange={(e) => onChecked(e.target.checked)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(fid, error, hint)}
      />
      <div>
        <label htmlFor={fid}>{label}</label>
        <Described id={fid} error={error} hint={hint} />
      </div>
    </div>
  );
}

/** Radio choices presented as cards (mode, tunnel). */
export function ChoiceField<T extends string>({
  label,
  field,
  error,
  value,
  onValue,
  options,
}: Common & { value: T; onValue: (v: T) => void; options: { value: T; label: string; description?: string }[] }) {
  const auto = useId();
  const name = `${field}-${auto.replace(/:/g, '')}`;
  return (
    <fieldset className={`field choices ${error ? 'has-error' : ''}`} data-field={field} aria-invalid={error ? true : undefined} tabIndex={-1}>
      <legend>{label}</legend>
      <div className="choice-list">
        {options.map((o) => (
          <label key={o.value} className={`choice ${value === o.value ? 'selected' : ''}`}>
            <input type="radio" name={name} value={o.value} checked={value === o.value} onChange={() => onValue(o.value)} />
            <span className="choice-label">{o.label}</span>
            {o.description && <span className="choice-desc">{o.description}</span>}
          </label>
        ))}
      </div>
      {error && <p className="field-error">{error}</p>}
    </fieldset>
  );
}

/** Messages that belong to no single field: summary of a failed submit. */
export function FormErrors({ messages }: { messages: string[] }) {
  if (messages.length === 0) return null;
  return (
    <div className="form-errors" role="alert" tabIndex={-1}>
      {messages.length === 1 ? (
        <p>{messages[0]}</p>
      ) : (
        <ul>
          {messages.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
