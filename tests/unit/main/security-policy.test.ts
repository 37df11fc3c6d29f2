import { describe, expect, it } from 'vitest';
import { APP_CSP, isAllowedExternalUrl, isAppUrl, isTrustedSender } from '../../../src/main/security-policy';
import { resolveUnderRoot } from '../../../src/core/security/safe-path';

describe('external URL allowlist', () => {
  it('allows https on listed hosts only', () => {
    expect(isAllowedExternalUrl('https://github.com/gpu-bridge/issues')).toBe(true);
    expect(isAllowedExternalUrl('https://docs.nvidia.com/video-technologies/')).toBe(true);
  });
  it.each([
    'http://github.com/',
    'https://github.com.evil.example/',
    'https://evil.example/?https://github.com',
    'https://user:pass@github.com/',
    'https://github.com:8443/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'smb://github.com/share',
    'not a url',
    '',
  ])('refuses %s', (url) => {
    expect(isAllowedExternalUrl(url)).toBe(false);
  });
});

describe('sender check', () => {
  it('accepts the top frame of the app origin', () => {
    expect(isTrustedSender({ frameUrl: 'app://gpu-bridge/index.html', isTopFrame: true })).toBe(true);
  });
  it('refuses sub-frames, other origins and missing URLs', () => {
    expect(isTrustedSender({ frameUrl: 'app://gpu-bridge/index.html', isTopFrame: false })).toBe(false);
    expect(isTrustedSender({ frameUrl: 'https://evil.example/', isTopFrame: true })).toBe(false);
    expect(isTrustedSender({ frameUrl: 'app://other/index.html', isTopFrame: true })).toBe(false);
    expect(isTrustedSender({ frameUrl: 'file:///index.html', isTopFrame: true })).toBe(false);
    expect(isTrustedSender({ frameUrl: null, isTopFrame: true })).toBe(false);
    expect(isTrustedSender({ frameUrl: undefined, isTopFrame: true })).toBe(false);
  });
  it('knows app URLs', () => {
    expect(isAppUrl('app://gpu-bridge/#/peers')).toBe(true);
    expect(isAppUrl('app://gpu-bridge.evil/')).toBe(false);
  });
});

describe('path guard', () => {
  const root = '/srv/renderer';
  it('maps paths under the root', () => {
    expect(resolveUnderRoot(root, '/')).toBe('/srv/renderer/index.html');
    expect(resolveUnderRoot(root, '/assets/index.js')).toBe('/srv/renderer/assets/index.js');
    expect(resolveUnderRoot(root, '/a/./b/c.js')).toBe('/srv/renderer/a/b/c.js');
    expect(resolveUnderRoot(root, '/a/b/../c.js')).toBeNull();
  });
  it.each(['/../etc/passwd', '/..%2f..%2fetc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..\\..\\x', '/a%00.js', '/%E0%A4%A', '/assets/../../etc/shadow'])(
    'refuses %s',
    (path) => {
      expect(resolveUnderRoot(root, path)).toBeNull();
    },
  );
});

describe('CSP', () => {
  it('allows no inline script, no eval and nothing remote', () => {
    expect(APP_CSP).toContain("script-src 'self'");
    expect(APP_CSP).not.toContain('unsafe-inline');
    expect(APP_CSP).not.toContain('unsafe-eval');
    expect(APP_CSP).toContain("default-src 'none'");
  });
});
