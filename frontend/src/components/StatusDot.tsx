import { LIVENESS_LABEL, type Liveness } from '../lib/status';

/** Coloured dot plus a text label for screen readers (colour is never the only cue). */
export function StatusDot({ liveness, showLabel = false }: { liveness: Liveness; showLabel?: boolean }) {
  return (
    <span className={`status status-${liveness}`} data-status={liveness} title={LIVENESS_LABEL[liveness]}>
      <span className="dot" aria-hidden="true" />
      <span className={showLabel ? 'status-label' : 'visually-hidden'}>{LIVENESS_LABEL[liveness]}</span>
    </span>
  );
}
