// A peer's client configuration: QR code to scan, .conf to download, text to copy.

import { useEffect, useState } from 'react';
import { api } from '../lib/api';
import { copyText } from '../lib/clipboard';
import { describeError } from '../lib/errors';
import { useTransient } from '../lib/hooks';
import type { Peer } from '../lib/types';
import { Loading } from './ui';

export function PeerConfig({ peer, config: given }: { peer: Peer; config?: string }) {
  const [config, setConfig] = useState<string | null>(given ?? null);
  const [error, setError] = useState<unknown>(null);
  const [copied, setCopied] = useTransient<'idle' | 'done' | 'failed'>('idle', 2500);
  const [qrFailed, setQrFailed] = useState(false);

  useEffect(() => {
    if (given) return;
    let live = true;
    api.peers.config(peer.network_id, peer.id).then(
      (text) => live && setConfig(text),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [peer.network_id, peer.id, given]);

  const copy = async () => {
    try {
      await copyText(config ?? (await api.peers.config(peer.network_id, peer.id)));
      setCopied('done');
    } catch {
      setCopied('failed');
    }
  };

  return (
    <div className="peer-config">
      {!peer.enabled && <p className="notice notice-warn">This peer is disabled: the configuration will not connect until it is enabled.</p>}
      {peer.has_private_key ? (
        <div className="qr-wrap">
          {qrFailed ? (
            <p className="notice notice-bad">The QR code could not be loaded.</p>
          ) : (
            <img
              className="qr"
              src={api.peers.qrSvgUrl(peer.network_id, peer.id)}
              alt={`QR code of the WireGuard configuration for ${peer.name}`}
              width={240}
              height={240}
              onError={() => setQrFailed(true)}
            />
          )}
          <p className="field-hint">Scan with the WireGuard app: + → Scan from QR code.</p>
        </div>
      ) : (
        <div className="notice notice-info" data-testid="no-qr">
          <p>
            <strong>No QR code for this peer.</strong> It brought its own key, so wgpilot never had its private key: a QR code could only carry
            a placeholder, and the app would import a tunnel that cannot connect.
          </p>
          <p>
            Download the file and replace the marked <code>PrivateKey</code> placeholder with the device's private key (the device shows it where
            its key pair was made).
          </p>
        </div>
      )}
      <div className="button-row">
        <a className="btn btn-primary" href={api.peers.configUrl(peer.network_id, peer.id)} download data-testid="download-config">
          {peer.has_private_key ? 'Download .conf' : 'Download .conf (add the private key)'}
        </a>
        <button type="button" className="btn" onClick={copy} disabled={!config && !!error}>
          {copied === 'done' ? 'Copied ✓' : copied === 'failed' ? 'Copy failed' : 'Copy to clipboard'}
        </button>
      </div>
      <span className="visually-hidden" aria-live="polite">
        {copied === 'done' ? 'Configuration copied to the clipboard' : copied === 'failed' ? 'Copy failed' : ''}
      </span>
      <details className="config-text">
        <summary>Show configuration text</summary>
        {config !== null ? (
          <pre tabIndex={0} data-testid="config-text">
            {config}
          </pre>
        ) : error ? (
          <p className="notice notice-bad">{describeError(error)}</p>
        ) : (
          <Loading rows={2} />
        )}
      </details>
    </div>
  );
}
