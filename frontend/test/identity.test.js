import { describe, it, expect } from 'vitest';
import { readableOn } from '@cowrite/client/codemirror';
import { COLORS } from '../src/identity.js';

describe('default colours', () => {
  it('carry white cursor labels legibly', () => {
    for (const c of COLORS) expect(readableOn(c)).toBe('#fff');
  });
});
