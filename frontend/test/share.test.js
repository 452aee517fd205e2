import { describe, it, expect } from 'vitest';
import { tokenClaims, tokenFromInput, shareRole } from '../src/share.js';

// A JWT-shaped string with these claims (the signature is not checked here).
const jwt = (claims) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

describe('share.js', () => {
  it('takes the token out of a pasted share link, or the pasted token as is', () => {
    expect(tokenFromInput(' http://h:3000/d/notes#token=abc.def.ghi ')).toBe('abc.def.ghi');
    expect(tokenFromInput('http://h/d/x?token=a%2Eb&y=1')).toBe('a.b');
    expect(tokenFromInput('  abc.def.ghi\n')).toBe('abc.def.ghi');
  });

  it('reads the claims of a token, unicode names included, and nothing from garbage', () => {
    expect(tokenClaims(jwt({ sub: 'u', name: 'Zoë 😀' }))).toEqual({ sub: 'u', name: 'Zoë 😀' });
    expect(tokenClaims('nope')).toBeNull();
    expect(tokenClaims('a.!!!.c')).toBeNull();
  });

  it('gives the role of a share link on its own document only', () => {
    const link = jwt({ sub: 'share:sh_1', jti: 'sh_1', docs: { notes: 'viewer' } });
    expect(shareRole('notes', link)).toBe('viewer');
    expect(shareRole('other', link)).toBe('');
    // An ordinary token (no jti, another subject) is left to the server.
    expect(shareRole('notes', jwt({ sub: 'alice', docs: { notes: 'viewer' } }))).toBe('');
    expect(shareRole('notes', jwt({ sub: 'share:x', jti: 'x', docs: { notes: 'owner' } }))).toBe('');
    expect(shareRole('notes', '')).toBe('');
  });
});
