import { describe, it, expect } from 'vitest';
import { readableOn } from '../src/presence.js';
import { COLORS } from '../src/identity.js';

describe('cursor label colours', () => {
  it('picks the more legible text colour', () => {
    expect(readableOn('#ffff00')).toBe('#000');
    expect(readableOn('#ffffff')).toBe('#000');
    expect(readableOn('#000000')).toBe('#fff');
    expect(readableOn('#1d4ed8')).toBe('#fff');
    expect(readableOn('not a colour')).toBe('#fff');
  });
  it('uses white on every default colour', () => {
    for (const c of COLORS) expect(readableOn(c)).toBe('#fff');
  });
});
