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
