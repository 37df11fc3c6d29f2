import { CaptureKind } from '../../shared/contract/sessions';
import { CliError } from '../command';

export function parseSize(text: string | undefined, fallback: [number, number]): [number, number] {
  if (text === undefined) return fallback;
  const match = /^(\d{2,4})x(\d{2,4})$/.exec(text);
  if (!match) throw new CliError(`--size takes WIDTHxHEIGHT, e.g. 1280x720; got "${text.slice(0, 40)}"`, 2);
  return [Number(match[1]), Number(match[2])];
}

export function parseIntOption(name: string, text: string | undefined, fallback: number | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new CliError(`--${name} must be an integer from ${min} to ${max}, got "${text.slice(0, 40)}"`, 2);
  return value;
}

/** `--source`: one of the capture kinds (undefined: the default). */
export function parseSource(text: string | undefined): CaptureKind | undefined {
  if (text === undefined) return undefined;
  const parsed = CaptureKind.safeParse(text);
  if (!parsed.success) throw new CliError(`--source must be one of ${CaptureKind.options.join(', ')}; got "${text.slice(0, 40)}"`, 2);
  return parsed.data;
}

