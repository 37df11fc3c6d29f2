import type { z } from 'zod';

export interface MethodSpec<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  params: P;
  result: R;
  /** One line for docs and error messages. */
  description: string;
}

export interface EventSpec<T extends z.ZodType = z.ZodType> {
  payload: T;
  description: string;
}

export function method<P extends z.ZodType, R extends z.ZodType>(spec: MethodSpec<P, R>): MethodSpec<P, R> {
  return spec;
}

export function event<T extends z.ZodType>(spec: EventSpec<T>): EventSpec<T> {
  return spec;
}
