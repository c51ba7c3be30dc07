// Form state: values, client checks, and the server's field errors in one place.

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { mapApiError } from './errors';

export interface FormApi<V extends Record<string, unknown>> {
  values: V;
  set: <K extends keyof V>(name: K, value: V[K]) => void;
  setAll: (values: V) => void;
  errors: Record<string, string>;
  general: string[];
  busy: boolean;
  /** onSubmit handler: validate, run `action`, map a failure onto the fields */
  submit: (action: (values: V) => Promise<void>) => (e?: FormEvent) => Promise<void>;
  formRef: React.RefObject<HTMLFormElement | null>;
  setErrors: (errors: Record<string, string>, general?: string[]) => void;
}

export function useForm<V extends Record<string, unknown>>(
  initial: V,
  validate: (values: V) => Record<string, string>,
  opts: { aliases?: Record<string, string> } = {},
): FormApi<V> {
  const [values, setValues] = useState<V>(initial);
  const [errors, setErrorsState] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [focusTick, setFocusTick] = useState(0);
  const formRef = useRef<HTMLFormElement | null>(null);
  const validateRef = useRef(validate);
  validateRef.current = validate;

  // After a failed submit, put the keyboard on the first field that needs attention.
  useEffect(() => {
    if (focusTick === 0) return;
    const form = formRef.current;
    const bad = form?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? form?.querySelector<HTMLElement>('.form-errors');
    bad?.focus();
  }, [focusTick]);

  const set = useCallback(<K extends keyof V>(name: K, value: V[K]) => {
    setValues((prev) => {
      const next = { ...prev, [name]: value };
      // Once a field shows an error, re-check it as the user types.
      setErrorsState((errs) => {
        if (!(name as string in errs)) return errs;
        const fresh = validateRef.current(next);
        const out = { ...errs };
        if (fresh[name as string]) out[name as string] = fresh[name as string] as string;
        else delete out[name as string];
        return out;
      });
      return next;
    });
  }, []);

  const setErrors = useCallback((errs: Record<string, string>, gen: string[] = []) => {
    setErrorsState(errs);
    setGeneral(gen);
    setFocusTick((t) => t + 1);
  }, []);

  const submit = useCallback(
    (action: (values: V) => Promise<void>) => async (e?: FormEvent) => {
      e?.preventDefault();
      if (busy) return;
      const found = validateRef.current(values);
      if (Object.keys(found).length > 0) {
        setErrors(found);
        return;
      }
      setErrorsState({});
      setGeneral([]);
      setBusy(true);
      try {
        await action(values);
      } catch (err) {
        const known = Array.from(formRef.current?.querySelectorAll<HTMLElement>('[data-field]') ?? []).map(
          (el) => el.dataset.field as string,
        );
        const mapped = mapApiError(err, known.length ? known : Object.keys(values), opts.aliases);
        setErrors(mapped.fields, mapped.general);
      } finally {
        setBusy(false);
      }
    },
    [busy, values, setErrors, opts.aliases],
  );

  return { values, set, setAll: setValues, errors, general, busy, submit, formRef, setErrors };
}
