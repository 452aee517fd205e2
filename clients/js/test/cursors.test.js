import { describe, it, expect } from 'vitest';
import { readableOn } from '../src/cursors.js';

describe('cursor label colours', () => {
  it('picks the more legible text colour', () => {
    expect(readableOn('#ffff00')).toBe('#000');
    expect(readableOn('#ffffff')).toBe('#000');
    expect(readableOn('#000000')).toBe('#fff');
    expect(readableOn('#1d4ed8')).toBe('#fff');
    expect(readableOn('not a colour')).toBe('#fff');
  });
});
