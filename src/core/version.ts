/** Replaced at build time; the fallback covers tests that run sources directly. */
declare const __GPU_BRIDGE_VERSION__: string | undefined;

export const VERSION: string = typeof __GPU_BRIDGE_VERSION__ === 'string' ? __GPU_BRIDGE_VERSION__ : '0.0.0-dev';
