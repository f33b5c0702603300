/**
 * The `tandem` command: commander parses the command line; each command talks to a running Tandem over its
 * REST API (`TANDEM_URL`, `TANDEM_API_TOKEN`), except `start`, which starts the server in this process.
 * Exit codes: 0 done; 1 it failed or needs fixing (an API error, a run that did not succeed, a doctor finding);
 * 2 the command line was wrong. Errors are one message on stderr, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { TandemClient } from './client';
import { CliError, EXIT } from './errors';
import { processOutput, type Output } from './output';
import { doctor } from './commands/doctor';
import { activity, links } from './commands/people';
import { plan } from './commands/plan';
import { reset } from './commands/reset';
import { run } from './commands/run';
import { status } from './commands/status';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('give a whole number of 1 or more');
  return Number(value);
}

export interface CliContext {
  env: NodeJS.ProcessEnv;
  output: Output;
}

/**
 * Runs the command line `argv` (without node and the script); answers the exit code, or undefined for `start`,
 * whose process lives on as the server.
 */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number | undefined> {
  const { output } = context;
  let code: number | undefined = EXIT.OK;
  const program = new Command('tandem')
    .description('Operate a Tandem: start it, see how its pipelines do, run, plan and check them.')
    .version(version(), '-v, --version')
    .option('--url <url>', 'where Tandem listens (default: $TANDEM_URL, else http://127.0.0.1:3000)')
    .addHelpText(
      'after',
      '\nEnvironment: TANDEM_URL (where Tandem listens), TANDEM_API_TOKEN (its admin token).\nExit codes: 0 done, 1 failed or something to fix, 2 wrong command line.',
    )
    .showHelpAfterError('(run `tandem help` for the commands)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) });

  const client = () => TandemClient.fromEnv(context.env, program.opts<{ url?: string }>().url);
  const json = new Option('--json', 'print the API’s answer as JSON');

  program
    .command('start')
    .description('start the Tandem server here (configured by its environment: see the README)')
    .action(async () => {
      const { serve } = await import('./serve.js');
      await serve();
      code = undefined;
    });

  program
    .command('status')
    .description("every pipeline's state, last run with counts, next run and errors since the last success")
    .addOption(json)
    .action(async (options: { json?: boolean }) => {
      code = await status(client(), output, options);
    });

  program
    .command('run')
    .description('force a cycle of a pipeline now')
    .argument('<pipeline>', 'pipeline id, e.g. default')
    .option('-f, --follow', 'show its progress until it ends; exit 0 if it succeeded, 1 otherwise')
    .addOption(
      new Option('--poll <ms>', 'milliseconds between looks at the run').argParser(positiveInteger).default(500),
    )
    .addOption(json)
    .action(async (pipeline: string, options: { follow?: boolean; poll?: number; json?: boolean }) => {
      code = await run(client(), output, pipeline, options);
    });

  program
    .command('plan')
    .description('dry run: what the next cycle would create, update, link and reject, per person and field')
    .argument('<pipeline>', 'pipeline id')
    .addOption(new Option('--limit <n>', 'people to show').argParser(positiveInteger).default(200))
    .addOption(json)
    .action(async (pipeline: string, options: { json?: boolean; limit?: number }) => {
      code = await plan(client(), output, pipeline, options);
    });

  program
    .command('doctor')
    .description(
      'check configuration, MongoDB, each connection (credentials, field access, quota, clock) and say what to fix',
    )
    .option('-p, --pipeline <id>', 'check only this pipeline')
    .addOption(json)
    .action(async (options: { json?: boolean; pipeline?: string }) => {
      code = await doctor(client(), output, options);
    });

  for (const [name, what, action] of [
    ['links', "a person's records on both sides, by email", links],
    ['activity', 'what the sync did to a person, newest first, by email', activity],
  ] as const) {
    program
      .command(name)
      .description(what)
      .argument('<email>', "the person's email")
      .option('-p, --pipeline <id>', 'pipeline id', 'default')
      .addOption(new Option('--limit <n>', 'entries to show').argParser(positiveInteger).default(50))
      .addOption(json)
      .action(async (email: string, options: { pipeline: string; json?: boolean; limit?: number }) => {
        code = await action(client(), output, email, options);
      });
  }

  program
    .command('reset')
    .description('start a pipeline over: forget its links, snapshots and cursors (needs --yes)')
    .argument('<pipeline>', 'pipeline id')
    .option('-y, --yes', 'confirm')
    .addOption(json)
    .action(async (pipeline: string, options: { yes?: boolean; json?: boolean }) => {
      code = await reset(client(), output, pipeline, options);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with a CommanderError too, with exit code 0.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (error instanceof CliError) {
      output.err(output.c.red(`tandem: ${error.message}`));
      return error.exitCode;
    }
    output.err(output.c.red(`tandem: ${error instanceof Error ? error.message : String(error)}`));
    return EXIT.FAILED;
  }
}

export async function main(): Promise<void> {
  const code = await runCli(process.argv.slice(2), { env: process.env, output: processOutput() });
  if (code !== undefined) process.exitCode = code;
}
