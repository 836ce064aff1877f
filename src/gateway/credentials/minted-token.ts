/**
 * A token minted from a token endpoint, kept until shortly before it expires (the last tenth of its
 * life, at most 5 s, is not used: a call in flight must arrive in time): one mint in flight per
 * entity whatever the load, refreshed in the background once less than a third of its life (at
 * most 5 minutes) is left, so calls keep using the current token meanwhile and never wait on a
 * refresh; only a call that finds no valid token waits for one. Per gateway process: each
 * replica mints its own (a token endpoint sees one mint per replica per token lifetime).
 */
import { CredentialError, type CredentialSource } from './types.js';

export interface Minted {
  token: string;
  /** Epoch ms. */
  expiresAt: number;
}

const REFRESH_AHEAD_MAX_MS = 5 * 60_000;
const SAFETY_MAX_MS = 5_000;

export class MintedToken {
  private current: Minted | undefined;
  private inFlight: Promise<Minted> | undefined;
  /** Tokens handed out, kept to scrub them from anything an upstream echoes. */
  private readonly issued: string[] = [];
  private mintedAt = 0;

  constructor(
    private readonly mint: (signal?: AbortSignal) => Promise<Minted>,
    private readonly now: () => number,
  ) {}

  private life(minted: Minted): number {
    return minted.expiresAt - this.mintedAt;
  }

  private usableUntil(minted: Minted): number {
    return minted.expiresAt - Math.min(SAFETY_MAX_MS, this.life(minted) / 10);
  }

  private start(signal?: AbortSignal): Promise<Minted> {
    this.inFlight ??= (async () => {
      try {
        const started = this.now();
        const minted = await this.mint(signal);
        this.current = minted;
        this.mintedAt = started;
        this.issued.push(minted.token);
        if (this.issued.length > 4) this.issued.shift();
        return minted;
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  /** A valid token now, minting only when there is none (or it is about to expire). */
  get(signal?: AbortSignal): string | Promise<string> {
    const now = this.now();
    const current = this.current;
    if (current && now < this.usableUntil(current)) {
      // Refresh ahead, in the background: a failure here is retried at the next call, and seen when it matters.
      const refreshAt = current.expiresAt - Math.min(REFRESH_AHEAD_MAX_MS, this.life(current) / 3);
      if (now >= refreshAt && !this.inFlight) this.start().catch(() => {});
      return current.token;
    }
    return this.start(signal).then((minted) => {
      if (this.usableUntil(minted) <= this.now())
        throw new CredentialError('the token endpoint issued a token that expires at once; check the clock');
      return minted.token;
    });
  }

  invalidate(): void {
    this.current = undefined;
  }

  tokens(): readonly string[] {
    return this.issued;
  }
}

/** A minted token sent as `Authorization: Bearer`: Google's and Entra ID's alike. */
export function bearerFromMinted(
  kind: CredentialSource['kind'],
  minted: MintedToken,
  held: () => readonly string[],
): CredentialSource {
  const withToken = (request: Parameters<CredentialSource['authorize']>[0], token: string) => ({
    ...request,
    headers: { ...request.headers, authorization: `Bearer ${token}` },
  });
  return {
    kind,
    authorize(request, signal) {
      const token = minted.get(signal);
      return typeof token === 'string' ? withToken(request, token) : token.then((t) => withToken(request, t));
    },
    secrets: () => [...held(), ...minted.tokens()],
    invalidate: () => minted.invalidate(),
    async check(signal) {
      minted.invalidate();
      await minted.get(signal);
      return 'a token was minted';
    },
  };
}
