import { existsSync, statSync } from 'node:fs';
import { CliError, ExitCode } from '../../core/errors.js';
import { isPinnedModel } from '../../core/pinning.js';
import { redactSecret } from '../../core/secrets.js';
import type { GatewayClient } from '../../client/gateway-client.js';
import { handle, type MakeContext } from '../command.js';
import type { Root } from '../program.js';
import type { CliContext } from '../context.js';

export interface CheckResult {
  check: string;
  ok: boolean;
  /** Not run: a check it depends on failed, so its answer would mislead. */
  skipped?: boolean;
  detail: string;
  hint?: string;
}

const MAX_SKEW_MS = 5 * 60_000;

type Check = (client: GatewayClient | undefined) => Promise<Omit<CheckResult, 'check'>>;

function failure(error: unknown, hint?: string): Omit<CheckResult, 'check'> {
  if (error instanceof CliError) return { ok: false, detail: error.message, hint: hint ?? error.hint ?? '' };
  return { ok: false, detail: (error as Error).message, ...(hint ? { hint } : {}) };
}

export async function doctor(ctx: CliContext): Promise<number> {
  const { settings, profiles, out } = ctx;
  const results: CheckResult[] = [];
  /** Runs `fn` unless a check named in `after` failed; then it is reported as skipped, never as passed. */
  const run = async (check: string, fn: Check, client?: GatewayClient, after: string[] = []) => {
    const failed = after.find((name) => results.some((r) => r.check === name && !r.ok));
    if (failed) {
      results.push({ check, ok: true, skipped: true, detail: `skipped: the ${failed} check failed` });
      return;
    }
    try {
      results.push({ check, ...(await fn(client)) });
    } catch (error) {
      results.push({ check, ...failure(error) });
    }
  };

  await run('config file', async () => {
    if (!existsSync(profiles.path))
      return { ok: true, detail: `none yet (${profiles.path}); flags and environment only` };
    const mode = statSync(profiles.path).mode & 0o777;
    return mode & 0o077
      ? {
          ok: false,
          detail: `${profiles.path} is readable by others (mode ${mode.toString(8)}) and holds credentials`,
          hint: `chmod 600 ${profiles.path}`,
        }
      : { ok: true, detail: `${profiles.path} (mode 600), profile '${settings.profileName ?? '(none)'}'` };
  });

  let client: GatewayClient | undefined;
  let date: string | undefined;
  await run('gateway', async () => {
    client = await ctx.client();
    const sent = await client.send<{ version: string }>('GET', '/healthz', { auth: 'none' });
    date = typeof sent.headers.date === 'string' ? sent.headers.date : undefined;
    return {
      ok: true,
      detail: `${settings.embedded ? 'embedded, ' : ''}${client.url} answers (embctl ${sent.body.version})`,
    };
  });

  if (client) {
    const afterGateway = ['gateway'];
    await run(
      'clock',
      async () => {
        if (!date) return { ok: true, detail: 'the gateway sent no Date header; not checked' };
        const skew = Date.now() - Date.parse(date);
        return Math.abs(skew) > MAX_SKEW_MS
          ? {
              ok: false,
              detail: `this machine's clock is ${Math.round(skew / 1000)} s off the gateway's`,
              hint: 'sync the clock (timedatectl set-ntp true): key expiry and log times depend on it',
            }
          : { ok: true, detail: `within ${Math.max(1, Math.round(Math.abs(skew) / 1000))} s of the gateway` };
      },
      undefined,
      afterGateway,
    );
    let models: { id: string }[] = [];
    await run(
      'API key',
      async (c) => {
        if (!settings.apiKey)
          return {
            ok: false,
            detail: 'none set',
            hint: 'set one: `embctl profile set apiKey -` (reads stdin), or EMBCTL_API_KEY',
          };
        models = await c!.models();
        return { ok: true, detail: `accepted (${redactSecret(settings.apiKey)})` };
      },
      client,
      afterGateway,
    );
    await run(
      'admin token',
      async (c) => {
        if (!settings.adminToken)
          return {
            ok: false,
            detail: 'none set',
            hint: 'set it: `embctl profile set adminToken -` (reads stdin), or EMBCTL_ADMIN_TOKEN',
          };
        const status = await c!.status();
        return { ok: true, detail: `accepted (gateway up ${status.uptime_s} s, store ${status.store.kind})` };
      },
      client,
      afterGateway,
    );
    if (settings.adminToken) {
      await run(
        'store',
        async (c) => {
          const { store, instances } = await c!.status();
          const where = `${store.kind} at ${store.location}, schema ${store.schema_version}`;
          return store.reachable
            ? { ok: true, detail: `${where}, reachable; ${instances.length} gateway(s) on it` }
            : {
                ok: false,
                detail: `${where}: the gateway cannot reach it (serving what it knows, refusing limited keys)`,
                hint: "check the database server and the gateway's --store URL; `embctl gateway status` shows the gateways",
              };
        },
        client,
        ['gateway', 'admin token'],
      );
      await run(
        'stored credentials',
        async (c) => {
          const unreadable = (await c!.listEntities()).filter((e) => e.unreadable);
          return unreadable.length
            ? {
                ok: false,
                detail: `${unreadable.map((e) => e.id).join(', ')}: ${unreadable[0]!.unreadable}`,
                hint:
                  `restate the credential (\`embctl models update ${unreadable[0]!.id} --token …\`) or delete ` +
                  `it (\`embctl models delete ${unreadable[0]!.id}\`)`,
              }
            : { ok: true, detail: "every embedding model's credentials can be read" };
        },
        client,
        ['gateway', 'admin token'],
      );
      await run(
        'provider credentials',
        async (c) => {
          const enabled = (await c!.listEntities()).filter((e) => e.enabled && !e.unreadable);
          const checks = await Promise.all(enabled.map((e) => c!.checkCredentials(e.id)));
          const proven = checks.filter(
            (r) => r.ok && ['aws-sigv4', 'google-service-account', 'entra-id'].includes(r.credential),
          );
          const failed = checks.filter((r) => !r.ok);
          if (failed.length)
            return {
              ok: false,
              detail: failed.map((r) => `${r.id}: ${r.detail}`).join('; '),
              hint: `fix the entity's credentials (\`embctl models get ${failed[0]!.id}\` shows the fields), then run doctor again`,
            };
          return {
            ok: true,
            detail: proven.length
              ? `${proven.map((r) => `${r.id} (${r.credential})`).join(', ')} minted or signed; static keys are proven at the first call`
              : 'no minted or signed credential to prove; static keys are proven at the first call',
          };
        },
        client,
        ['gateway', 'admin token'],
      );
    }
    await run(
      'models',
      async () =>
        models.length
          ? {
              ok: true,
              detail: `${models.length} enabled: ${models
                .slice(0, 5)
                .map((m) => m.id)
                .join(', ')}${models.length > 5 ? ', …' : ''}`,
            }
          : {
              ok: false,
              detail: 'no enabled embedding model is available to this key',
              hint: 'enable one: `embctl models list`, then `embctl models enable ID`',
            },
      undefined,
      ['gateway', 'API key'],
    );
    await run(
      'pinned model',
      async (c) => {
        if (!settings.model)
          return { ok: true, detail: 'none pinned in the profile (embed uses --model or the only model served)' };
        const resolved = await c!.call<{ id: string; model?: string }>(
          'GET',
          `/v1/models/${encodeURIComponent(settings.model)}`,
        );
        const name = resolved.model ?? resolved.id;
        return isPinnedModel(name)
          ? { ok: true, detail: `'${settings.model}' resolves to ${resolved.id}` }
          : {
              ok: false,
              detail: `'${settings.model}' resolves to '${name}', which names no version`,
              hint: 'pin a versioned model: `embctl profile set model ENTITY/MODEL-VERSION`',
            };
      },
      client,
      ['gateway', 'API key'],
    );
  }

  if (out.format === 'table') {
    for (const r of results) {
      const mark = r.skipped
        ? out.paintData('dim', '-')
        : r.ok
          ? out.paintData('green', '✔')
          : out.paintData('red', '✖');
      out.text(`${mark} ${r.check}: ${r.detail}`);
      if (!r.ok && r.hint) out.text(`    fix: ${r.hint}`);
    }
  } else {
    out.records(results);
  }
  const failed = results.filter((r) => !r.ok).length;
  if (failed) out.info(`${failed} check(s) failed`);
  return failed ? ExitCode.failure : ExitCode.ok;
}

export function registerDoctorCommand(program: Root, makeContext: MakeContext): void {
  handle(
    program.command('doctor').description('check the config, the gateway, the credentials, the models and the clock'),
    makeContext,
    (_o, ctx) => doctor(ctx),
  );
}
